// Instance Groups: list, detail, create, edit and delete from the API's OPTIONS metadata.
import { resourceRoutes } from '../lib/ui.js';

export const cfg = {
  key: 'instance_groups',
  title: 'Instance Groups',
  singular: 'Instance group',
  columns: [{ key: 'name', label: 'Name' }, { key: 'capacity', label: 'Capacity' }, { key: 'consumed_capacity', label: 'Used' }, { key: 'jobs_running', label: 'Running jobs' }, { key: 'instances', label: 'Instances' }],
};

export default { nav: { href: '/instance_groups', label: 'Instance Groups', section: 'Administration' }, routes: resourceRoutes(cfg) };
