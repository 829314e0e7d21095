// Jobs: the list (`/api/v2/unified_jobs/`) and a job's page — details, host status counts,
// cancel, relaunch, download, and the output live over the websocket (`outputview.js`).
import { html, useState, useEffect, useRef, Page, Alert, Status, ResourceList, fmtTime, fmtElapsed, ACTIVE } from '../lib/ui.js';
import { api } from '../lib/api.js';
import { navigate } from '../lib/router.js';
import { OutputView } from '../lib/outputview.js';
import { pageQuery, tallyHosts, countHosts, OUTLINE_EVENTS } from '../lib/output.js';
import { toHtml } from '../lib/ansi.js';
import * as live from '../lib/ws.js';

const PAGE = 200; // the API's largest page

// What differs between a playbook job and an ad hoc command.
export const KINDS = {
  job: { api: 'jobs', events: 'job_events', group: 'job_events', route: 'jobs', label: 'Job' },
  ad_hoc_command: { api: 'ad_hoc_commands', events: 'events', group: 'ad_hoc_command_events', route: 'ad_hoc_commands', label: 'Ad hoc command' },
};

export function jobHref(j) {
  const k = KINDS[j.type];
  return k ? `/${k.route}/${j.id}` : `/jobs/${j.id}`;
}

const cfg = {
  key: 'unified_jobs',
  title: 'Jobs',
  readOnly: true,
  order: '-id',
  detailHref: jobHref,
  filters: [{ key: 'status', label: 'Status', choices: ['new', 'pending', 'waiting', 'running', 'successful', 'failed', 'error', 'canceled'].map((s) => [s, s]) }],
  columns: [
    { key: 'id', label: 'ID' },
    { key: 'name', label: 'Name', render: (j) => html`<a href=${jobHref(j)}>${j.name}</a>` },
    { key: 'status', label: 'Status', render: (j) => html`<${Status} status=${j.status} />` },
    { key: 'type', label: 'Type' },
    { key: 'started', label: 'Started' },
    { key: 'finished', label: 'Finished' },
  ],
};

const COUNTS = [['ok', 'OK'], ['changed', 'Changed'], ['failures', 'Failed'], ['dark', 'Unreachable'], ['skipped', 'Skipped']];

function HostCounts({ counts }) {
  return html`<ul class="counts" aria-label="Host status counts">
    ${COUNTS.map(([k, l]) => html`<li class=${`c-${k}`}><span class="n" data-count=${k}>${(counts && counts[k]) || 0}</span> ${l}</li>`)}
  </ul>`;
}

function EventDetail({ ev, kind, onClose }) {
  const [full, setFull] = useState(null);
  const [err, setErr] = useState(null);
  const ref = useRef();
  useEffect(() => {
    api(`/api/v2/${kind.events === 'events' ? 'ad_hoc_command_events' : 'job_events'}/${ev.id}/`).then(setFull, setErr);
    ref.current && ref.current.showModal && ref.current.showModal();
  }, [ev.id]);
  return html`<dialog ref=${ref} class="dialog" aria-label="Event detail" onClose=${onClose}>
    <header><h2>Event ${ev.counter}: ${ev.event}</h2><button onClick=${() => ref.current.close()} aria-label="Close">×</button></header>
    <${Alert} error=${err} />
    ${full ? html`<dl class="detail">
        <div><dt>Host</dt><dd>${full.host_name || '—'}</dd></div>
        <div><dt>Task</dt><dd>${full.task || '—'}</dd></div>
        <div><dt>Play</dt><dd>${full.play || '—'}</dd></div>
        <div><dt>Created</dt><dd>${fmtTime(full.created)}</dd></div>
      </dl>
      <h3>Result (JSON)</h3><pre class="json">${JSON.stringify(full.event_data && full.event_data.res !== undefined ? full.event_data.res : full.event_data, null, 2)}</pre>`
      : html`<p class="loading">Loading…</p>`}
  </dialog>`;
}

// Event filters: outcome → AWX's event filters.
const OUTCOMES = [['', 'All events'], ['failed', 'Failed'], ['changed', 'Changed'], ['ok', 'OK'], ['skipped', 'Skipped'], ['unreachable', 'Unreachable']];
const OUTCOME_QUERY = {
  failed: 'failed=true', changed: 'changed=true', ok: 'event=runner_on_ok',
  skipped: 'event=runner_on_skipped', unreachable: 'event=runner_on_unreachable',
};

/** Events matching a host and an outcome, a page at a time (a filtered view is short). */
function FilteredEvents({ id, kind, host, outcome, onSelect }) {
  const [page, setPage] = useState(1);
  const [data, setData] = useState(null);
  const [error, setError] = useState(null);
  useEffect(() => setPage(1), [host, outcome]);
  useEffect(() => {
    const q = ['order_by=counter', 'page_size=50', `page=${page}`];
    if (host) q.push(`host_name__icontains=${encodeURIComponent(host)}`);
    if (outcome) q.push(OUTCOME_QUERY[outcome]);
    api(`/api/v2/${kind.api}/${id}/${kind.events}/?${q.join('&')}`).then(setData, setError);
  }, [host, outcome, page]);
  if (error) return html`<${Alert} error=${error} />`;
  if (!data) return html`<p class="loading">Loading…</p>`;
  return html`<div class="filtered">
    <table class="table events"><thead><tr><th scope="col">#</th><th scope="col">Host</th><th scope="col">Event</th><th scope="col">Output</th></tr></thead>
    <tbody>${data.results.length === 0 && html`<tr><td colspan="4" class="empty">No events match.</td></tr>`}
      ${data.results.map((e) => html`<tr key=${e.id}><td data-label="#"><button class="link" onClick=${() => onSelect(e)}>${e.counter}</button></td>
        <td data-label="Host">${e.host_name}</td><td data-label="Event">${e.event_display || e.event}</td>
        <td data-label="Output"><pre class="ansi" dangerouslySetInnerHTML=${{ __html: toHtml(e.stdout || '') }}></pre></td></tr>`)}
    </tbody></table>
    <nav class="pager" aria-label="Event pages"><button disabled=${!data.previous} onClick=${() => setPage(page - 1)}>Previous</button>
      <span>${data.count} events</span><button disabled=${!data.next} onClick=${() => setPage(page + 1)}>Next</button></nav>
  </div>`;
}

/** The plays and tasks of a job (the output view's outline: all of them, live ones too), to
 * jump to in the output. */
function Outline({ items, onJump }) {
  if (!items.length) return html`<p class="muted">No plays or tasks yet.</p>`;
  return html`<ol class="outline">${items.map((e) => html`<li key=${e.counter} class=${e.kind}>
    <button class="link" onClick=${() => onJump(e.counter)}>${e.kind === 'play' ? `PLAY ${e.name}` : `TASK ${e.name}`}</button></li>`)}</ol>`;
}

function Output({ id, kind, job, setLiveCounts }) {
  const el = useRef();
  const view = useRef();
  const [follow, setFollow] = useState(false);
  const [total, setTotal] = useState(null);
  const [selected, setSelected] = useState(null);
  const [host, setHost] = useState('');
  const [outcome, setOutcome] = useState('');
  const [outline, setOutline] = useState(false);
  const [heads, setHeads] = useState([]);
  const filtering = !!(host || outcome);
  const active = ACTIVE.includes(job.status);
  const activeRef = useRef(active);
  activeRef.current = active;
  useEffect(() => {
    const base = `/api/v2/${kind.api}/${id}/${kind.events}/`;
    const hosts = new Map();
    let maxSeen = 0;
    const v = new OutputView(el.current, {
      pageSize: PAGE,
      loadPage: (p) => api(`${base}?${pageQuery(p, PAGE)}`).then((r) => r.results),
      onSelect: setSelected,
      onFollow: setFollow,
      onOutline: setHeads,
      live: () => activeRef.current,
    });
    view.current = v;
    // Subscribe first, then read how far the job got: nothing falls between the two.
    const stopWatch = live.watch(kind.group, Number(id));
    let countsTimer = 0;
    const stopListen = live.listen((m) => {
      if (m.type === 'reconnected') {
        v.reloadFrom(maxSeen);
        refreshTotal();
        return;
      }
      if (m.group_name !== kind.group || String(m[kind.group === 'job_events' ? 'job' : 'ad_hoc_command']) !== String(id)) return;
      maxSeen = Math.max(maxSeen, m.counter || 0);
      v.add([m]);
      if (tallyHosts(hosts, m) && !countsTimer) {
        countsTimer = setTimeout(() => {
          countsTimer = 0;
          setLiveCounts(countHosts(hosts));
        }, 250);
      }
      setTotal((t) => Math.max(t || 0, m.counter || 0));
    });
    const refreshTotal = () =>
      api(`${base}?order_by=-counter&page_size=1`).then((r) => {
        const n = r.results.length ? r.results[0].counter : 0;
        maxSeen = Math.max(maxSeen, n);
        v.setTotal(n);
        setTotal((t) => Math.max(t || 0, n));
        if (activeRef.current) v.setFollow(true);
      });
    refreshTotal();
    // Where plays and tasks start and end, all of them (a few pages even for a huge job), so
    // folding one hides its events whether or not they were loaded. Live heads come with the
    // events themselves.
    (async () => {
      let url = `${base}?event__in=${OUTLINE_EVENTS}&order_by=counter&page_size=${PAGE}`;
      while (url && !v.destroyed) {
        const r = await api(url);
        v.addOutline(r.results);
        url = r.next;
      }
    })().catch(() => {});
    return () => {
      stopWatch();
      stopListen();
      clearTimeout(countsTimer);
      v.destroy();
    };
  }, [id]);
  useEffect(() => {
    if (!active && view.current) view.current.setFollow(false);
  }, [active]);
  const toggle = () => {
    const v = view.current;
    v.setFollow(!v.follow);
    if (v.follow) v.scrollToEnd();
  };
  return html`<section class="output-panel" aria-label="Output">
    <div class="toolbar">
      <button aria-pressed=${follow ? 'true' : 'false'} onClick=${toggle} class=${follow ? 'on' : ''}>Follow</button>
      <button onClick=${() => { view.current.setFollow(false); el.current.scrollTop = 0; }}>Top</button>
      <button onClick=${() => view.current.scrollToEnd()}>End</button>
      <button aria-expanded=${outline ? 'true' : 'false'} onClick=${() => setOutline(!outline)}>Plays and tasks</button>
      <label class="filter">Show <select id="outcome" onChange=${(e) => setOutcome(e.target.value)}>
        ${OUTCOMES.map(([v, l]) => html`<option value=${v} selected=${v === outcome}>${l}</option>`)}</select></label>
      <label class="filter">Host <input id="host-filter" type="search" size="12" value=${host} onChange=${(e) => setHost(e.target.value.trim())} /></label>
      <span class="grow"></span>
      <span class="muted" aria-live="polite" data-events=${total ?? ''}>${total === null ? '' : `${total} events`}</span>
      <a class="button" href=${`/api/v2/${kind.api}/${id}/stdout/?format=txt_download`} download>Download</a>
    </div>
    ${outline && html`<nav class="outline-box" aria-label="Plays and tasks"><${Outline} items=${heads}
      onJump=${(c) => { setHost(''); setOutcome(''); view.current.scrollToCounter(c); }} /></nav>`}
    <div ref=${el} class="output-box" hidden=${filtering}></div>
    ${filtering && html`<${FilteredEvents} id=${id} kind=${kind} host=${host} outcome=${outcome} onSelect=${setSelected} />`}
    ${selected && html`<${EventDetail} ev=${selected} kind=${kind} onClose=${() => setSelected(null)} />`}
  </section>`;
}

export function JobPage({ id, kindName = 'job' }) {
  const kind = KINDS[kindName];
  const [job, setJob] = useState(null);
  const [error, setError] = useState(null);
  const [msg, setMsg] = useState(null);
  const [liveCounts, setLiveCounts] = useState(null);
  const load = () => api(`/api/v2/${kind.api}/${id}/`).then((j) => (setJob(j), setError(null)), setError);
  useEffect(() => {
    setJob(null);
    setLiveCounts(null);
    load();
    // Status changes come on `jobs-status_changed`; the summary when all events are stored.
    return live.listen((m) => {
      if (m.type === 'reconnected' || (m.group_name === 'jobs' && String(m.unified_job_id) === String(id))) load();
    });
  }, [id]);
  if (error) return html`<${Page} title=${kind.label}><${Alert} error=${error} /></${Page}>`;
  if (!job) return html`<p class="loading">Loading…</p>`;
  const active = ACTIVE.includes(job.status);
  const sf = job.summary_fields || {};
  // As AWX's UI: Relaunch, and Cancel while it runs, only where `user_capabilities.start` is
  // true. (Kinds whose API does not serve `start` yet keep both: the API still decides.)
  const mayStart = (sf.user_capabilities || {}).start ?? true;
  const cancel = async () => {
    try {
      await api(`/api/v2/${kind.api}/${id}/cancel/`, { method: 'POST', body: {} });
      setMsg('Cancel requested.');
      load();
    } catch (e) {
      setMsg(e.message);
    }
  };
  const relaunch = async () => {
    try {
      const j = await api(`/api/v2/${kind.api}/${id}/relaunch/`, { method: 'POST', body: {} });
      navigate(`/${kind.route}/${j.id || j[kindName]}`);
    } catch (e) {
      setMsg(e.message);
    }
  };
  const counts = job.host_status_counts && Object.keys(job.host_status_counts).length ? job.host_status_counts : liveCounts;
  const ref = (k, route) => sf[k] && html`<div><dt>${k.replace(/_/g, ' ')}</dt><dd><a href=${`/${route}/${sf[k].id}`}>${sf[k].name}</a></dd></div>`;
  return html`<${Page} title=${`${job.id} — ${job.name}`} crumbs=${[['/jobs', 'Jobs']]}
      actions=${html`<${Status} status=${job.status} />
        ${active && mayStart && job.can_cancel !== false && html`<button class="danger" onClick=${cancel}>Cancel</button>`}
        ${!active && mayStart && html`<button onClick=${relaunch}>Relaunch</button>`}`}>
    ${msg && html`<div class="alert info" role="status">${msg}</div>`}
    <div class="job-top">
      <dl class="detail compact">
        ${ref('job_template', 'templates')}${ref('inventory', 'inventories')}${ref('project', 'projects')}
        ${job.playbook && html`<div><dt>Playbook</dt><dd>${job.playbook}</dd></div>`}
        ${job.module_name && html`<div><dt>Module</dt><dd>${job.module_name} ${job.module_args}</dd></div>`}
        <div><dt>Launched by</dt><dd>${(sf.created_by && sf.created_by.username) || job.launch_type}</dd></div>
        <div><dt>Started</dt><dd>${fmtTime(job.started) || '—'}</dd></div>
        <div><dt>Finished</dt><dd>${fmtTime(job.finished) || '—'}</dd></div>
        <div><dt>Elapsed</dt><dd>${fmtElapsed(job.elapsed)}</dd></div>
        ${job.job_explanation && html`<div class="wide"><dt>Explanation</dt><dd>${job.job_explanation}</dd></div>`}
      </dl>
      <${HostCounts} counts=${counts} />
    </div>
    <${Output} id=${id} kind=${kind} job=${job} setLiveCounts=${setLiveCounts} />
  </${Page}>`;
}

export default {
  nav: { href: '/jobs', label: 'Jobs', section: 'Views' },
  routes: [
    { path: '/jobs', view: () => html`<${Page} title="Jobs"><${ResourceList} cfg=${cfg} base="/jobs" /></${Page}>` },
    { path: '/jobs/:id', view: ({ id }) => html`<${JobPage} id=${id} />` },
    { path: '/ad_hoc_commands/:id', view: ({ id }) => html`<${JobPage} id=${id} kindName="ad_hoc_command" />` },
  ],
};
