// Schedules: list, detail, create, edit and delete from the API's OPTIONS metadata.
import { resourceRoutes } from '../lib/ui.js';

export const cfg = {
  key: 'schedules',
  title: 'Schedules',
  singular: 'Schedule',
  columns: [{ key: 'name', label: 'Name' }, { key: 'summary_fields.unified_job_template.name', label: 'Template', sort: false }, { key: 'next_run', label: 'Next run' }, { key: 'enabled', label: 'Enabled' }],
  form: ['name', 'description', 'unified_job_template', 'rrule', 'enabled', 'extra_data'],
};

export default { nav: { href: '/schedules', label: 'Schedules', section: 'Views' }, routes: resourceRoutes(cfg) };
