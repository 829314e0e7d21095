// Projects: list, detail, create, edit and delete from the API's OPTIONS metadata.
import { resourceRoutes } from '../lib/ui.js';

export const cfg = {
  key: 'projects',
  title: 'Projects',
  singular: 'Project',
  columns: [{ key: 'name', label: 'Name' }, { key: 'scm_type', label: 'Type' }, { key: 'local_path', label: 'Directory' }, { key: 'status', label: 'Status' }],
};

export default { nav: { href: '/projects', label: 'Projects', section: 'Resources' }, routes: resourceRoutes(cfg) };
