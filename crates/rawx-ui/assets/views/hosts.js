// Hosts: the generic views; a host's page offers "Run command" limited to it.
import { html, resourceRoutes } from '../lib/ui.js';

export const cfg = {
  key: 'hosts',
  title: 'Hosts',
  singular: 'Host',
  columns: [{ key: 'name', label: 'Name' }, { key: 'summary_fields.inventory.name', label: 'Inventory', sort: false },
    { key: 'enabled', label: 'Enabled' }, { key: 'has_active_failures', label: 'Failed' }],
  filters: [{ key: 'has_active_failures', label: 'Failed', choices: [['true', 'Yes'], ['false', 'No']] }],
  form: ['name', 'description', 'inventory', 'enabled', 'variables'],
  detailActions: (row) => html`<a class="button" href=${`/inventories/${row.inventory}/adhoc?limit=${encodeURIComponent(row.name)}`}>Run command</a>`,
};

export default { nav: { href: '/hosts', label: 'Hosts', section: 'Resources' }, routes: resourceRoutes(cfg) };
