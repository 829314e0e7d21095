// Projects: list, detail, create, edit and delete from the API's OPTIONS metadata.
import { resourceRoutes } from '../lib/ui.js';

export const cfg = {
  key: 'projects',
  title: 'Projects',
  singular: 'Project',
  form: ['name', 'description', 'organization', 'scm_type', 'local_path', 'scm_url', 'scm_branch', 'scm_refspec', 'credential',
    'scm_clean', 'scm_delete_on_update', 'scm_track_submodules', 'scm_update_on_launch', 'allow_override', 'timeout'],
  columns: [{ key: 'name', label: 'Name' }, { key: 'scm_type', label: 'Type' }, { key: 'local_path', label: 'Directory' }, { key: 'status', label: 'Status' }],
};

export default { nav: { href: '/projects', label: 'Projects', section: 'Resources' }, routes: resourceRoutes(cfg) };
