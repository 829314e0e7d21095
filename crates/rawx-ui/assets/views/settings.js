// Settings (system, jobs, logging): each category's fields from its OPTIONS, saved with PATCH.
import { html, useState, useEffect, Page, Alert, Field, useOptions } from '../lib/ui.js';
import { api } from '../lib/api.js';

const CATEGORIES = [['system', 'System'], ['jobs', 'Jobs'], ['logging', 'Logging']];

function Category({ slug }) {
  const path = `/api/v2/settings/${slug}/`;
  const [opts, optsErr] = useOptions(path);
  const [values, setValues] = useState(null);
  const [errors, setErrors] = useState({});
  const [msg, setMsg] = useState(null);
  const [err, setErr] = useState(null);
  useEffect(() => {
    setValues(null);
    api(path).then(setValues, setErr);
  }, [slug]);
  const meta = opts && opts.actions && (opts.actions.PUT || opts.actions.GET);
  if (optsErr || err) return html`<${Alert} error=${optsErr || err} />`;
  if (!meta || !values) return html`<p class="loading">Loading…</p>`;
  const writable = !!(opts.actions.PUT);
  const save = async (e) => {
    e.preventDefault();
    setMsg(null);
    const body = {};
    const bad = {};
    for (const k of Object.keys(meta)) {
      if (meta[k].read_only || !(k in values)) continue;
      let v = values[k];
      // Lists and objects are edited as JSON text.
      if (['list', 'nested object', 'json', 'dict'].includes(meta[k].type) && typeof v === 'string') {
        try {
          v = JSON.parse(v);
        } catch {
          bad[k] = ['Enter valid JSON.'];
        }
      }
      body[k] = v;
    }
    if (Object.keys(bad).length) {
      setErrors(bad);
      return;
    }
    try {
      setValues(await api(path, { method: 'PATCH', body }));
      setErrors({});
      setMsg('Saved.');
    } catch (e2) {
      if (e2.status === 400) setErrors(e2.body);
      setMsg(e2.message || 'Please correct the fields marked below.');
    }
  };
  return html`<form class="form" onSubmit=${save} novalidate>
    ${msg && html`<div class="alert info" role="status">${msg}</div>`}
    <div class="grid">${Object.entries(meta).map(([k, m]) => html`<${Field} key=${k} name=${k} meta=${{ ...m, type: m.type === 'list' || m.type === 'nested object' ? 'json' : m.type }}
      value=${values[k]} error=${errors[k]} onInput=${(v) => setValues((o) => ({ ...o, [k]: v }))} />`)}</div>
    ${writable && html`<div class="buttons"><button class="primary" type="submit">Save</button></div>`}
  </form>`;
}

function Settings({ slug = 'system' }) {
  return html`<${Page} title="Settings">
    <nav class="tabs" aria-label="Setting categories">${CATEGORIES.map(([s, l]) => html`<a href=${`/settings/${s}`} aria-current=${s === slug ? 'page' : undefined}>${l}</a>`)}</nav>
    <${Category} slug=${slug} />
  </${Page}>`;
}

export default {
  nav: { href: '/settings', label: 'Settings', section: 'Administration', admin: true },
  routes: [
    { path: '/settings', view: () => html`<${Settings} />` },
    { path: '/settings/:slug', view: ({ slug }) => html`<${Settings} slug=${slug} />` },
  ],
};
