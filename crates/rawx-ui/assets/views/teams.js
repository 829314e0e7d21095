// Teams: list, detail, create, edit and delete from the API's OPTIONS metadata.
import { resourceRoutes } from '../lib/ui.js';

export const cfg = {
  key: 'teams',
  title: 'Teams',
  singular: 'Team',
  columns: [{ key: 'name', label: 'Name' }, { key: 'summary_fields.organization.name', label: 'Organization', sort: false }, { key: 'description', label: 'Description' }],
};

export default { nav: { href: '/teams', label: 'Teams', section: 'Access' }, routes: resourceRoutes(cfg) };
