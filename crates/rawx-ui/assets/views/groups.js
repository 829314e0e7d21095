// Groups: list, detail, create, edit and delete from the API's OPTIONS metadata.
import { resourceRoutes } from '../lib/ui.js';

export const cfg = {
  key: 'groups',
  title: 'Groups',
  singular: 'Group',
  columns: [{ key: 'name', label: 'Name' }, { key: 'summary_fields.inventory.name', label: 'Inventory', sort: false }, { key: 'description', label: 'Description' }],
};

export default { nav: { href: '/groups', label: 'Groups', section: 'Resources' }, routes: resourceRoutes(cfg) };
