// The dashboard: AWX's counts (`/api/v2/dashboard/`), the job results of the last 30 days
// (`/api/v2/dashboard/graphs/jobs/`, drawn as inline SVG) and the most recent jobs.
import { html, useEffect, Page, Alert, Status, useApi, fmtTime } from '../lib/ui.js';
import { listen } from '../lib/ws.js';
import { jobHref } from './jobs.js';

const SERIES = [['successful', 'Successful'], ['failed', 'Failed'], ['error', 'Error'], ['canceled', 'Canceled']];

/** Stacked bars per day; each series a themed colour; a table copy for screen readers. */
export function JobsChart({ data }) {
  const jobs = data.jobs;
  const days = jobs.successful.map((p) => p[0]);
  const totals = days.map((_, i) => SERIES.reduce((s, [k]) => s + ((jobs[k][i] || [0, 0])[1] || 0), 0));
  const max = Math.max(1, ...totals);
  const W = 600, H = 160, pad = 24, bw = (W - pad) / Math.max(1, days.length);
  const ticks = [...new Set([0, Math.ceil(max / 2), max])];
  return html`<figure class="chart">
    <svg viewBox=${`0 0 ${W} ${H + 20}`} role="img" aria-labelledby="chart-title" preserveAspectRatio="none">
      <title id="chart-title">Job results per day, last ${days.length} days</title>
      ${ticks.map((t) => html`<g class="tick"><line x1=${pad} x2=${W} y1=${H - (t / max) * (H - 10)} y2=${H - (t / max) * (H - 10)} /><text x="0" y=${H - (t / max) * (H - 10) + 4}>${t}</text></g>`)}
      ${days.map((d, i) => {
        let y = H;
        return html`<g>${SERIES.map(([k]) => {
          const n = (jobs[k][i] || [0, 0])[1] || 0;
          if (!n) return null;
          const h = (n / max) * (H - 10);
          y -= h;
          return html`<rect class=${`bar-${k}`} x=${pad + i * bw + 1} y=${y} width=${Math.max(1, bw - 2)} height=${h}><title>${new Date(d * 1000).toLocaleDateString()}: ${n} ${k}</title></rect>`;
        })}</g>`;
      })}
      ${days.map((d, i) => (i % 7 === 0 ? html`<text class="day" x=${pad + i * bw} y=${H + 15}>${new Date(d * 1000).toLocaleDateString(undefined, { month: 'short', day: 'numeric' })}</text>` : null))}
    </svg>
    <figcaption>${SERIES.map(([k, l]) => html`<span class="legend"><i class=${`bar-${k}`} aria-hidden="true"></i>${l} ${jobs[k].reduce((s, p) => s + p[1], 0)}</span>`)}</figcaption>
  </figure>`;
}

function Dashboard() {
  const [counts, err1, reload1] = useApi('/api/v2/dashboard/');
  const [graph, err2, reload2] = useApi('/api/v2/dashboard/graphs/jobs/?period=month&job_type=all');
  const [jobs, err3, reload3] = useApi('/api/v2/unified_jobs/?order_by=-id&page_size=10');
  useEffect(() => {
    let t = 0;
    // Any job status change refreshes, at most once a second.
    return listen((m) => {
      if (m.group_name !== 'jobs' || t) return;
      t = setTimeout(() => {
        t = 0;
        reload1();
        reload2();
        reload3();
      }, 1000);
    });
  }, []);
  const tiles = counts && [
    ['Hosts', counts.hosts.total, '/hosts'],
    ['Failed hosts', counts.hosts.failed, '/hosts?has_active_failures=true'],
    ['Inventories', counts.inventories.total, '/inventories'],
    ['Templates', counts.job_templates.total, '/templates'],
    ['Projects', counts.projects.total, '/projects'],
  ];
  return html`<${Page} title="Dashboard">
    <${Alert} error=${err1 || err2 || err3} />
    <div class="tiles">${tiles && tiles.map(([l, n, h]) => html`<a class="tile" href=${h}><span class="n">${n}</span><span>${l}</span></a>`)}</div>
    <div class="dash">
      <section class="card"><h2>Job status, last 30 days</h2>${graph ? html`<${JobsChart} data=${graph} />` : html`<p class="loading">Loading…</p>`}</section>
      <section class="card"><h2>Recent jobs</h2>
        ${jobs && (jobs.results.length ? html`<table class="table"><thead><tr><th scope="col">Name</th><th scope="col">Status</th><th scope="col">Finished</th></tr></thead><tbody>
          ${jobs.results.map((j) => html`<tr><td data-label="Name"><a href=${jobHref(j)}>${j.id} — ${j.name}</a></td><td data-label="Status"><${Status} status=${j.status} /></td><td data-label="Finished">${fmtTime(j.finished)}</td></tr>`)}
        </tbody></table>` : html`<p class="muted">No jobs yet. <a href="/templates">Launch a template</a>.</p>`)}
      </section>
    </div>
  </${Page}>`;
}

export default {
  nav: { href: '/dashboard', label: 'Dashboard', section: 'Views' },
  routes: [{ path: '/dashboard', view: () => html`<${Dashboard} />` }],
};
