// Organizations: list, detail, create, edit and delete from the API's OPTIONS metadata.
import { resourceRoutes } from '../lib/ui.js';

export const cfg = {
  key: 'organizations',
  title: 'Organizations',
  singular: 'Organization',
  columns: [{ key: 'name', label: 'Name' }, { key: 'description', label: 'Description' }, { key: 'created', label: 'Created' }],
};

export default { nav: { href: '/organizations', label: 'Organizations', section: 'Access' }, routes: resourceRoutes(cfg) };
