// Shared pieces of every view: formatting, status badges, alerts, and the generic list,
// detail and form views driven by the API's OPTIONS metadata (what the `awx` CLI reads too).
import { html, useState, useEffect, useRef, useMemo } from '../vendor/preact-htm.js';
import { api, listAll, qs, errorText, ApiError } from './api.js';
import { navigate, query, setQuery } from './router.js';

export { html, useState, useEffect, useRef, useMemo };

export function fmtTime(s) {
  if (!s) return '';
  const d = new Date(s);
  return isNaN(d) ? s : d.toLocaleString();
}

export function fmtElapsed(sec) {
  if (sec === null || sec === undefined || sec === '') return '';
  const s = Math.round(Number(sec));
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
  return (h ? `${h}h ` : '') + (h || m ? `${m}m ` : '') + `${r}s`;
}

export const ACTIVE = ['new', 'pending', 'waiting', 'running'];

export function Status({ status }) {
  return html`<span class=${`status s-${status}`} data-status=${status}>${status}</span>`;
}

export function Alert({ error, kind = 'error' }) {
  if (!error) return null;
  const text = error instanceof ApiError ? error.message : typeof error === 'string' ? error : error.message || String(error);
  return html`<div class=${`alert ${kind}`} role=${kind === 'error' ? 'alert' : 'status'}>${text}</div>`;
}

export function Page({ title, actions, children, crumbs }) {
  useEffect(() => {
    document.title = `${title} | rawx`;
  }, [title]);
  return html`<section class="page">
    ${crumbs && html`<nav class="crumbs" aria-label="Breadcrumb">${crumbs.map(([href, label], i) => html`${i ? ' / ' : ''}<a href=${href}>${label}</a>`)}</nav>`}
    <header class="page-head"><h1>${title}</h1><div class="actions">${actions}</div></header>
    ${children}
  </section>`;
}

/** Loads `path` (re-loading when it or `deps` change): [data, error, reload]. */
export function useApi(path, deps = []) {
  const [state, setState] = useState({ data: null, error: null });
  const [n, setN] = useState(0);
  useEffect(() => {
    if (!path) return;
    let live = true;
    api(path).then(
      (data) => live && setState({ data, error: null }),
      (error) => live && setState({ data: null, error }),
    );
    return () => (live = false);
  }, [path, n, ...deps]);
  return [state.data, state.error, () => setN((x) => x + 1)];
}

// Foreign keys as OPTIONS names them (type "id") → the list to choose from.
const FK = {
  organization: 'organizations', inventory: 'inventories', project: 'projects',
  credential_type: 'credential_types', credential: 'credentials', execution_environment: 'execution_environments',
  default_environment: 'execution_environments', user: 'users', team: 'teams', job_template: 'job_templates',
  unified_job_template: 'unified_job_templates', host: 'hosts', group: 'groups', instance_group: 'instance_groups',
  webhook_credential: 'credentials', signature_validation_credential: 'credentials',
};
// Text that AWX takes as YAML or JSON source, sent as text.
const TEXT_JSON = ['variables', 'extra_vars', 'source_vars', 'host_filter'];
// Metadata fields never edited by hand.
const SKIP = ['id', 'type', 'url', 'related', 'summary_fields', 'created', 'modified'];

function label(meta, name) {
  return meta.label || name;
}

/** A select over a related list (names), or a number input when the list is unknown. */
function FkInput({ name, id, value, onInput, required, invalid, described }) {
  const [opts, setOpts] = useState(null);
  const res = FK[name];
  useEffect(() => {
    if (res) listAll(`/api/v2/${res}/?order_by=name`).then(setOpts, () => setOpts([]));
  }, [res]);
  if (!res) {
    return html`<input id=${id} type="number" value=${value ?? ''} aria-invalid=${invalid} aria-describedby=${described}
      onInput=${(e) => onInput(e.target.value === '' ? null : Number(e.target.value))} />`;
  }
  return html`<select id=${id} aria-invalid=${invalid} aria-describedby=${described}
      onChange=${(e) => onInput(e.target.value === '' ? null : Number(e.target.value))}>
    <option value="" selected=${value == null}>${required ? 'Choose…' : '(none)'}</option>
    ${(opts || []).map((o) => html`<option value=${o.id} selected=${o.id === value}>${o.name || o.hostname || o.username || `#${o.id}`}</option>`)}
  </select>`;
}

/** One input for one OPTIONS field, with its label, help and the API's error beside it. */
export function Field({ name, meta, value, onInput, error, override }) {
  const id = `f-${name}`;
  const errId = error ? `${id}-err` : undefined;
  const helpId = meta.help_text ? `${id}-help` : undefined;
  const described = [errId, helpId].filter(Boolean).join(' ') || undefined;
  const invalid = error ? 'true' : undefined;
  let input;
  if (override) input = override({ id, value, onInput, invalid, described });
  else if (meta.type === 'boolean') {
    input = html`<input id=${id} type="checkbox" checked=${!!value} aria-describedby=${described} onChange=${(e) => onInput(e.target.checked)} />`;
  } else if (meta.type === 'choice') {
    // Choices keep their type (verbosity is 0–5, not "0"–"5").
    const pick = (x) => ((meta.choices || []).find(([v]) => String(v) === x) || [x])[0];
    input = html`<select id=${id} aria-invalid=${invalid} aria-describedby=${described} onChange=${(e) => onInput(pick(e.target.value))}>
      ${(meta.choices || []).map(([v, l]) => html`<option value=${v} selected=${String(v) === String(value ?? '')}>${l}</option>`)}
    </select>`;
  } else if (meta.type === 'id') {
    input = html`<${FkInput} name=${name} id=${id} value=${value} onInput=${onInput} required=${meta.required} invalid=${invalid} described=${described} />`;
  } else if (meta.type === 'integer' || meta.type === 'float') {
    input = html`<input id=${id} type="number" value=${value ?? ''} min=${meta.min_value} max=${meta.max_value} aria-invalid=${invalid} aria-describedby=${described}
      onInput=${(e) => onInput(e.target.value === '' ? null : Number(e.target.value))} />`;
  } else if (meta.type === 'json') {
    const text = typeof value === 'string' ? value : value == null ? '' : JSON.stringify(value, null, 2);
    input = html`<textarea id=${id} rows="5" class="mono" aria-invalid=${invalid} aria-describedby=${described} onInput=${(e) => onInput(e.target.value)}>${text}</textarea>`;
  } else {
    const secret = name === 'password' || meta.secret;
    input = html`<input id=${id} type=${secret ? 'password' : 'text'} autocomplete=${secret ? 'new-password' : 'off'} value=${value ?? ''}
      maxlength=${meta.max_length} required=${meta.required} aria-invalid=${invalid} aria-describedby=${described} onInput=${(e) => onInput(e.target.value)} />`;
  }
  return html`<div class=${`field t-${meta.type}${error ? ' has-error' : ''}`}>
    <label for=${id}>${label(meta, name)}${meta.required ? html`<span class="req" aria-hidden="true"> *</span>` : ''}</label>
    ${input}
    ${meta.help_text && html`<small id=${helpId} class="help">${meta.help_text}</small>`}
    ${error && html`<div id=${errId} class="field-error" role="alert">${[].concat(error).join(' ')}</div>`}
  </div>`;
}

/** Turns the form's values into the request body (JSON text parsed where the API wants JSON). */
function body(fields, values) {
  const out = {};
  const bad = {};
  for (const [name, meta] of fields) {
    if (!(name in values)) continue;
    let v = values[name];
    if (meta.type === 'json' && !TEXT_JSON.includes(name) && typeof v === 'string') {
      try {
        v = v.trim() ? JSON.parse(v) : {};
      } catch {
        bad[name] = ['Enter valid JSON.'];
        continue;
      }
    }
    out[name] = v;
  }
  return [out, bad];
}

/** Create (no `id`) or edit a resource from OPTIONS metadata. `cfg.form` orders and picks the
 * fields; `cfg.overrides` replaces an input (credential inputs). Errors land beside fields. */
export function ResourceForm({ cfg, id, onSaved, initial }) {
  const path = id ? `/api/v2/${cfg.key}/${id}/` : `/api/v2/${cfg.key}/`;
  const [meta, metaErr] = useApi(path, []);
  const [opts, optsErr] = useOptions(path);
  const [values, setValues] = useState(null);
  const [errors, setErrors] = useState({});
  const [busy, setBusy] = useState(false);
  const [top, setTop] = useState(null);
  const action = id ? 'PUT' : 'POST';
  const all = opts && opts.actions && opts.actions[action];
  const fields = useMemo(() => {
    if (!all) return [];
    const names = (cfg.form || Object.keys(all)).filter((n) => all[n] && !SKIP.includes(n) && !all[n].read_only);
    return names.map((n) => [n, all[n]]);
  }, [all]);
  useEffect(() => {
    if (!all || values) return;
    if (id && !meta) return;
    const v = {};
    for (const [n, m] of fields) {
      if (id) v[n] = meta[n];
      else if (initial && n in initial) v[n] = m.type === 'id' || m.type === 'integer' ? Number(initial[n]) : initial[n];
      else if (m.default !== undefined) v[n] = m.default;
      else if (m.type === 'choice' && m.choices && m.choices.length && m.required) v[n] = m.choices[0][0];
    }
    setValues(v);
  }, [all, meta, fields]);
  if (metaErr || optsErr) return html`<${Alert} error=${metaErr || optsErr} />`;
  if (opts && !all) return html`<${Alert} error=${`You do not have permission to ${id ? 'edit' : 'create'} this.`} />`;
  if (!values) return html`<p class="loading">Loading…</p>`;
  const submit = async (e) => {
    e.preventDefault();
    const [b, bad] = body(fields, values);
    if (Object.keys(bad).length) return setErrors(bad);
    setBusy(true);
    setTop(null);
    try {
      const saved = await api(path, { method: id ? 'PATCH' : 'POST', body: cfg.prepare ? cfg.prepare(b, values) : b });
      setErrors({});
      onSaved(saved);
    } catch (err) {
      setBusy(false);
      if (err.status === 400 && err.body && typeof err.body === 'object') {
        const known = {};
        const rest = {};
        for (const [k, v] of Object.entries(err.body)) (fields.some(([n]) => n === k) ? known : rest)[k] = v;
        setErrors(known);
        const msg = errorText(rest) || Object.entries(rest).map(([k, v]) => `${k}: ${[].concat(v).join(' ')}`).join('; ');
        setTop(msg || (Object.keys(known).length ? 'Please correct the fields marked below.' : 'The request was refused.'));
        const first = Object.keys(known)[0];
        if (first) setTimeout(() => document.getElementById(`f-${first}`)?.focus(), 0);
      } else setTop(err);
    }
  };
  return html`<form class="form" onSubmit=${submit} novalidate>
    <${Alert} error=${top} />
    <div class="grid">
      ${fields.map(([n, m]) => html`<${Field} key=${n} name=${n} meta=${m} value=${values[n]} error=${errors[n]}
        override=${cfg.overrides && cfg.overrides[n] && ((p) => cfg.overrides[n]({ ...p, values, setValues, editing: !!id, errors }))}
        onInput=${(v) => setValues((old) => ({ ...old, [n]: v }))} />`)}
    </div>
    <div class="buttons"><button type="submit" class="primary" disabled=${busy}>Save</button>
      <button type="button" onClick=${() => history.back()}>Cancel</button></div>
  </form>`;
}

export function useOptions(path) {
  const [state, setState] = useState([null, null]);
  useEffect(() => {
    let live = true;
    api(path, { method: 'OPTIONS' }).then((d) => live && setState([d, null]), (e) => live && setState([null, e]));
    return () => (live = false);
  }, [path]);
  return state;
}

export function cell(row, col) {
  if (col.render) return col.render(row);
  const v = col.key.split('.').reduce((o, k) => (o == null ? o : o[k]), row);
  if (typeof v === 'boolean') return v ? 'Yes' : 'No';
  if (['created', 'modified', 'finished', 'started', 'next_run', 'last_job_run', 'last_health_check'].includes(col.key)) return fmtTime(v);
  return v == null ? '' : String(v);
}

/** What the caller may do with a row: AWX's `summary_fields.user_capabilities`. */
export function caps(row) {
  return (row.summary_fields && row.summary_fields.user_capabilities) || { edit: true, delete: true };
}

/** A paged list with AWX's `search`, filters (`field=value` from `cfg.filters`), `order_by`
 * and `page`, all kept in the URL so a list can be linked and reloaded. */
export function ResourceList({ cfg, base, path, extraActions, createHref, prefix = '' }) {
  // `prefix` keeps two lists on one page (an inventory's hosts and groups) apart in the URL.
  const all = query();
  const q = {};
  for (const [k, v] of Object.entries(all)) if (k.startsWith(prefix)) q[k.slice(prefix.length)] = v;
  const setQ = (changes) => setQuery(Object.fromEntries(Object.entries(changes).map(([k, v]) => [prefix + k, v])));
  const page = Number(q.page || 1);
  const pageSize = Number(q.page_size || 20);
  const order = q.order_by || cfg.order || 'name';
  const params = { search: q.search, order_by: order, page, page_size: pageSize };
  for (const f of cfg.filters || []) params[f.key] = q[f.key];
  const listPath = (path || `/api/v2/${cfg.key}/`) + qs(params);
  const [data, error, reload] = useApi(listPath);
  const [opts] = useOptions(path || `/api/v2/${cfg.key}/`);
  const [msg, setMsg] = useState(null);
  const [search, setSearch] = useState(q.search || '');
  const canCreate = !cfg.readOnly && opts && opts.actions && opts.actions.POST;
  const href = base || cfg.base || `/${cfg.key}`;
  const del = async (row) => {
    if (!confirm(`Delete ${row.name || row.username || row.hostname || `#${row.id}`}?`)) return;
    try {
      await api(`/api/v2/${cfg.key}/${row.id}/`, { method: 'DELETE' });
      setMsg({ kind: 'ok', text: `Deleted ${row.name || row.id}.` });
      reload();
    } catch (e) {
      // AWX's delete rules answer 409 with what is in the way (active jobs, …).
      const b = e.body || {};
      const extra = b.active_jobs ? ` Active jobs: ${b.active_jobs.map((j) => `${j.type} ${j.id}`).join(', ')}.` : '';
      setMsg({ kind: 'error', text: (e.message || 'Delete failed.') + extra });
    }
  };
  const sortBy = (key) => setQ({ order_by: order === key ? `-${key}` : key, page: 1 });
  return html`<div class="list">
    <div class="toolbar">
      <form role="search" onSubmit=${(e) => { e.preventDefault(); setQ({ search, page: 1 }); }}>
        <label class="sr" for=${`${prefix}search`}>Search ${cfg.title}</label>
        <input id=${`${prefix}search`} type="search" placeholder="Search" value=${search} onInput=${(e) => setSearch(e.target.value)} />
        <button type="submit">Search</button>
      </form>
      ${(cfg.filters || []).map((f) => html`<label class="filter">${f.label}
        <select onChange=${(e) => setQ({ [f.key]: e.target.value, page: 1 })}>
          <option value="">Any</option>
          ${f.choices.map(([v, l]) => html`<option value=${v} selected=${q[f.key] === String(v)}>${l}</option>`)}
        </select></label>`)}
      <span class="grow"></span>
      ${extraActions}
      ${canCreate && html`<a class="button primary" href=${createHref || `${href}/add`}>Add</a>`}
    </div>
    ${msg && html`<div class=${`alert ${msg.kind}`} role="status">${msg.text}</div>`}
    <${Alert} error=${error} />
    ${data && html`<table class="table">
      <thead><tr>${cfg.columns.map((c) => {
        const sortable = c.sort !== false && !c.render;
        const dir = order === c.key ? 'ascending' : order === `-${c.key}` ? 'descending' : undefined;
        return html`<th scope="col" aria-sort=${dir}>${sortable ? html`<button class="link" onClick=${() => sortBy(c.key)}>${c.label}${dir ? (dir === 'ascending' ? ' ▲' : ' ▼') : ''}</button>` : c.label}</th>`;
      })}${!cfg.readOnly && html`<th scope="col"><span class="sr">Actions</span></th>`}</tr></thead>
      <tbody>
        ${data.results.length === 0 && html`<tr><td colspan=${cfg.columns.length + 1} class="empty">No ${cfg.title.toLowerCase()} found.</td></tr>`}
        ${data.results.map((row) => html`<tr key=${row.id}>
          ${cfg.columns.map((c, i) => html`<td data-label=${c.label}>${i === 0 && !c.render ? html`<a href=${cfg.detailHref ? cfg.detailHref(row) : `${href}/${row.id}`}>${cell(row, c)}</a>` : cell(row, c)}</td>`)}
          ${!cfg.readOnly && html`<td class="row-actions">
            ${cfg.rowActions && cfg.rowActions(row, reload)}
            ${caps(row).edit && html`<a class="button small" href=${`${href}/${row.id}/edit`} aria-label=${`Edit ${row.name || row.id}`}>Edit</a>`}
            ${caps(row).delete && html`<button class="small danger" onClick=${() => del(row)} aria-label=${`Delete ${row.name || row.id}`}>Delete</button>`}</td>`}
        </tr>`)}
      </tbody></table>
      <nav class="pager" aria-label="Pages">
        <button disabled=${!data.previous} onClick=${() => setQ({ page: page - 1 })}>Previous</button>
        <span>Page ${page} of ${Math.max(1, Math.ceil(data.count / pageSize))} (${data.count} items)</span>
        <button disabled=${!data.next} onClick=${() => setQ({ page: page + 1 })}>Next</button>
      </nav>`}
  </div>`;
}

/** A resource's fields as OPTIONS labels them, in a definition list. */
export function ResourceDetail({ cfg, id, children, actions }) {
  const path = `/api/v2/${cfg.key}/${id}/`;
  const [row, error] = useApi(path);
  const [opts] = useOptions(path);
  if (error) return html`<${Page} title=${cfg.singular}><${Alert} error=${error} /></${Page}>`;
  if (!row) return html`<p class="loading">Loading…</p>`;
  const meta = (opts && opts.actions && (opts.actions.GET || opts.actions.PUT)) || {};
  const keys = cfg.detail || Object.keys(meta).filter((k) => !SKIP.includes(k) && k !== 'password');
  const sf = row.summary_fields || {};
  return html`<${Page} title=${row.name || row.username || row.hostname || `${cfg.singular} ${id}`}
      crumbs=${[[cfg.base || `/${cfg.key}`, cfg.title]]}
      actions=${html`${actions && actions(row)}${!cfg.readOnly && caps(row).edit && html`<a class="button" href=${`${cfg.base || `/${cfg.key}`}/${id}/edit`}>Edit</a>`}`}>
    <dl class="detail">
      ${keys.map((k) => {
        let v = row[k];
        if (sf[k] && typeof sf[k] === 'object' && sf[k].name) v = sf[k].name;
        else if (v && typeof v === 'object') v = JSON.stringify(v, null, 2);
        else if (typeof v === 'boolean') v = v ? 'Yes' : 'No';
        return html`<div><dt>${(meta[k] && meta[k].label) || k}</dt><dd class=${typeof row[k] === 'object' || k === 'variables' ? 'pre' : ''}>${v === '' || v == null ? '—' : String(v)}</dd></div>`;
      })}
    </dl>
    ${children && children(row)}
  </${Page}>`;
}

/** The list, detail, add and edit routes of a resource from its config. */
export function resourceRoutes(cfg) {
  const base = cfg.base || `/${cfg.key}`;
  const routes = [
    { path: base, view: () => html`<${Page} title=${cfg.title}><${ResourceList} cfg=${cfg} /></${Page}>` },
    { path: `${base}/:id`, view: ({ id }) => (cfg.Detail ? html`<${cfg.Detail} id=${id} cfg=${cfg} />` : html`<${ResourceDetail} cfg=${cfg} id=${id} actions=${cfg.detailActions} />`) },
  ];
  if (!cfg.readOnly) {
    routes.push(
      { path: `${base}/add`, view: () => html`<${Page} title=${`New ${cfg.singular.toLowerCase()}`} crumbs=${[[base, cfg.title]]}>
        <${ResourceForm} cfg=${cfg} initial=${query()} onSaved=${(r) => navigate(`${base}/${r.id}`)} /></${Page}>` },
      { path: `${base}/:id/edit`, view: ({ id }) => html`<${Page} title=${`Edit ${cfg.singular.toLowerCase()}`} crumbs=${[[base, cfg.title], [`${base}/${id}`, `#${id}`]]}>
        <${ResourceForm} cfg=${cfg} id=${id} onSaved=${() => navigate(`${base}/${id}`)} /></${Page}>` },
    );
  }
  return routes;
}
