// Inventories: the generic views, plus the inventory's hosts and groups and "Run command".
import { html, resourceRoutes, ResourceDetail, ResourceList } from '../lib/ui.js';
import { cfg as hosts } from './hosts.js';
import { cfg as groups } from './groups.js';

export const cfg = {
  key: 'inventories',
  title: 'Inventories',
  singular: 'Inventory',
  columns: [{ key: 'name', label: 'Name' }, { key: 'summary_fields.organization.name', label: 'Organization', sort: false },
    { key: 'total_hosts', label: 'Hosts' }, { key: 'hosts_with_active_failures', label: 'Failed hosts' }],
  Detail: ({ id }) => html`<${ResourceDetail} cfg=${cfg} id=${id}
      actions=${() => html`<a class="button" href=${`/inventories/${id}/adhoc`}>Run command</a>`}>
    ${() => html`<h2>Hosts</h2><${ResourceList} cfg=${hosts} prefix="host_" base="/hosts" path=${`/api/v2/inventories/${id}/hosts/`} createHref=${`/hosts/add?inventory=${id}`} />
      <h2>Groups</h2><${ResourceList} cfg=${groups} prefix="group_" base="/groups" path=${`/api/v2/inventories/${id}/groups/`} createHref=${`/groups/add?inventory=${id}`} />`}
  </${ResourceDetail}>`,
};

export default { nav: { href: '/inventories', label: 'Inventories', section: 'Resources' }, routes: resourceRoutes(cfg) };
