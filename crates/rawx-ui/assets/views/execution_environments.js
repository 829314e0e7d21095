// Execution Environments: list, detail, create, edit and delete from the API's OPTIONS metadata.
import { resourceRoutes } from '../lib/ui.js';

export const cfg = {
  key: 'execution_environments',
  title: 'Execution Environments',
  singular: 'Execution environment',
  columns: [{ key: 'name', label: 'Name' }, { key: 'image', label: 'Image' }, { key: 'managed', label: 'Managed' }],
  readOnly: true,
};

export default { nav: { href: '/execution_environments', label: 'Execution Environments', section: 'Administration' }, routes: resourceRoutes(cfg) };
