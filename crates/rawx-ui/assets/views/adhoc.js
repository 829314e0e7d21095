// Ad hoc commands: run one module on an inventory's hosts (from an inventory or a host page).
import { html, useState, Page, Alert, Field, useOptions } from '../lib/ui.js';
import { api } from '../lib/api.js';
import { navigate, query } from '../lib/router.js';

const FIELDS = ['module_name', 'module_args', 'limit', 'credential', 'verbosity', 'forks', 'become_enabled', 'diff_mode', 'extra_vars'];

function AdHoc({ inventory, limit }) {
  const [opts, err] = useOptions('/api/v2/ad_hoc_commands/');
  const [values, setValues] = useState({ module_name: 'command', limit: limit || 'all', verbosity: 0 });
  const [errors, setErrors] = useState({});
  const [top, setTop] = useState(null);
  const post = opts && opts.actions && opts.actions.POST;
  if (err) return html`<${Alert} error=${err} />`;
  if (!opts) return html`<p class="loading">Loading…</p>`;
  if (!post) return html`<${Alert} error="You do not have permission to run commands." />`;
  const submit = async (e) => {
    e.preventDefault();
    setTop(null);
    try {
      const body = { inventory: Number(inventory) };
      for (const k of FIELDS) if (values[k] !== undefined && values[k] !== null && values[k] !== '') body[k] = values[k];
      const c = await api('/api/v2/ad_hoc_commands/', { method: 'POST', body });
      navigate(`/ad_hoc_commands/${c.id}`);
    } catch (e2) {
      if (e2.status === 400) {
        const known = {};
        for (const [k, v] of Object.entries(e2.body)) if (FIELDS.includes(k)) known[k] = v;
        setErrors(known);
        setTop(e2.message || 'Please correct the fields marked below.');
      } else setTop(e2);
    }
  };
  return html`<form class="form" onSubmit=${submit} novalidate><${Alert} error=${top} /><div class="grid">
    ${FIELDS.filter((k) => post[k]).map((k) => html`<${Field} key=${k} name=${k} meta=${post[k]} value=${values[k]} error=${errors[k]}
      onInput=${(v) => setValues((o) => ({ ...o, [k]: v }))} />`)}
  </div><div class="buttons"><button class="primary" type="submit">Run</button></div></form>`;
}

export default {
  routes: [
    { path: '/inventories/:id/adhoc', view: ({ id }) => html`<${Page} title="Run command" crumbs=${[['/inventories', 'Inventories'], [`/inventories/${id}`, `#${id}`]]}>
      <${AdHoc} inventory=${id} limit=${query().limit} /></${Page}>` },
  ],
};
