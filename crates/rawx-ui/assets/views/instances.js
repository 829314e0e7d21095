// Instances: capacity and health (admins may run a health check); read-only otherwise.
import { html, resourceRoutes } from '../lib/ui.js';
import { api } from '../lib/api.js';

export const cfg = {
  key: 'instances',
  title: 'Instances',
  singular: 'Instance',
  order: 'hostname',
  readOnly: true,
  columns: [{ key: 'hostname', label: 'Host name' }, { key: 'node_type', label: 'Type' }, { key: 'node_state', label: 'State' },
    { key: 'capacity', label: 'Capacity' }, { key: 'consumed_capacity', label: 'Used' }, { key: 'jobs_running', label: 'Running jobs' },
    { key: 'enabled', label: 'Enabled' }, { key: 'last_health_check', label: 'Last health check' }],
  detailActions: (row) => html`<button onClick=${async (e) => {
    const b = e.target;
    try {
      await api(`/api/v2/instances/${row.id}/health_check/`, { method: 'POST', body: {} });
      b.textContent = 'Health check requested';
    } catch (err) {
      b.textContent = err.message;
    }
  }}>Run health check</button>`,
};

export default { nav: { href: '/instances', label: 'Instances', section: 'Administration' }, routes: resourceRoutes(cfg) };
