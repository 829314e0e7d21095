// Credentials: the generic views, with `inputs` drawn from the credential type's fields;
// secrets are write-only (left empty they keep their stored value: `$encrypted$`).
import { html, useState, useEffect, resourceRoutes } from '../lib/ui.js';
import { api } from '../lib/api.js';

function Inputs({ id, value, onInput, values, editing, invalid, described }) {
  const [type, setType] = useState(null);
  useEffect(() => {
    if (values.credential_type) api(`/api/v2/credential_types/${values.credential_type}/`).then(setType, () => setType(null));
  }, [values.credential_type]);
  const v = value && typeof value === 'object' ? value : {};
  const fields = (type && type.inputs && type.inputs.fields) || [];
  if (!values.credential_type) return html`<p id=${id} class="muted">Choose a credential type first.</p>`;
  return html`<fieldset id=${id} class="subfields" aria-invalid=${invalid} aria-describedby=${described}><legend class="sr">Type details</legend>
    ${fields.map((f) => {
      const fid = `${id}-${f.id}`;
      const secret = f.secret;
      const cur = v[f.id];
      const shown = secret && cur === '$encrypted$' ? '' : cur ?? '';
      const set = (x) => onInput({ ...v, [f.id]: x });
      return html`<div class="field"><label for=${fid}>${f.label || f.id}</label>
        ${f.choices ? html`<select id=${fid} onChange=${(e) => set(e.target.value)}>${['', ...f.choices].map((c) => html`<option selected=${c === cur}>${c}</option>`)}</select>`
          : f.type === 'boolean' ? html`<input id=${fid} type="checkbox" checked=${!!cur} onChange=${(e) => set(e.target.checked)} />`
          : f.multiline ? html`<textarea id=${fid} class="mono" rows="4" placeholder=${secret && editing ? 'Unchanged (encrypted)' : ''} onInput=${(e) => set(e.target.value)}>${shown}</textarea>`
          : html`<input id=${fid} type=${secret ? 'password' : 'text'} autocomplete="off" value=${shown} placeholder=${secret && editing ? 'Unchanged (encrypted)' : ''} onInput=${(e) => set(e.target.value)} />`}
        ${f.help_text && html`<small class="help">${f.help_text}</small>`}</div>`;
    })}
  </fieldset>`;
}

export const cfg = {
  key: 'credentials',
  title: 'Credentials',
  singular: 'Credential',
  form: ['name', 'description', 'organization', 'credential_type', 'inputs'],
  columns: [{ key: 'name', label: 'Name' }, { key: 'summary_fields.credential_type.name', label: 'Type', sort: false },
    { key: 'summary_fields.organization.name', label: 'Organization', sort: false }],
  overrides: { inputs: (p) => html`<${Inputs} ...${p} />` },
  // Secrets left empty while editing keep what is stored.
  prepare: (body) => {
    const inputs = { ...(body.inputs || {}) };
    for (const [k, x] of Object.entries(inputs)) if (x === '') delete inputs[k];
    return { ...body, inputs };
  },
};

export default { nav: { href: '/credentials', label: 'Credentials', section: 'Resources' }, routes: resourceRoutes(cfg) };
