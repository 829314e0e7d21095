// Credential Types: list, detail, create, edit and delete from the API's OPTIONS metadata.
import { resourceRoutes } from '../lib/ui.js';

export const cfg = {
  key: 'credential_types',
  title: 'Credential Types',
  singular: 'Credential type',
  columns: [{ key: 'name', label: 'Name' }, { key: 'kind', label: 'Kind' }, { key: 'managed', label: 'Managed' }],
};

export default { nav: { href: '/credential_types', label: 'Credential Types', section: 'Administration' }, routes: resourceRoutes(cfg) };
