// Job templates: list, detail with Launch, create/edit (generic form), and the launch page:
// the prompts the template asks for (`GET …/launch/`), errors beside the field they concern.
import { html, useState, Page, Alert, ResourceList, ResourceDetail, ResourceForm, Field, useApi, useOptions, caps } from '../lib/ui.js';
import { api, listAll } from '../lib/api.js';
import { navigate, query } from '../lib/router.js';
import { cfg as schedules } from './schedules.js';

const cfg = {
  key: 'job_templates',
  base: '/templates',
  title: 'Templates',
  singular: 'Template',
  form: ['name', 'description', 'job_type', 'inventory', 'project', 'playbook', 'limit', 'forks', 'verbosity',
    'extra_vars', 'job_tags', 'skip_tags', 'timeout', 'execution_environment', 'diff_mode', 'allow_simultaneous',
    'ask_variables_on_launch', 'ask_limit_on_launch', 'ask_inventory_on_launch', 'ask_credential_on_launch',
    'ask_job_type_on_launch', 'ask_verbosity_on_launch', 'ask_tags_on_launch', 'ask_skip_tags_on_launch', 'ask_diff_mode_on_launch'],
  columns: [
    { key: 'name', label: 'Name' },
    { key: 'playbook', label: 'Playbook' },
    { key: 'summary_fields.inventory.name', label: 'Inventory', sort: false },
    { key: 'last_job_run', label: 'Last run' },
  ],
  // Launch only where AWX's `user_capabilities.start` says the caller may start it.
  rowActions: (row) => caps(row).start && html`<a class="button small" href=${`/templates/${row.id}/launch`} aria-label=${`Launch ${row.name}`}>Launch</a>`,
  overrides: {
    // The playbooks the chosen project holds, as AWX's UI offers them.
    playbook: ({ id, value, onInput, invalid, described, values }) => html`<${PlaybookSelect} id=${id} value=${value} onInput=${onInput}
      invalid=${invalid} described=${described} project=${values.project} />`,
  },
};

function PlaybookSelect({ id, value, onInput, invalid, described, project }) {
  const [books] = useApi(project ? `/api/v2/projects/${project}/playbooks/` : null);
  if (!project || !Array.isArray(books)) {
    return html`<input id=${id} value=${value || ''} aria-invalid=${invalid} aria-describedby=${described} onInput=${(e) => onInput(e.target.value)} />`;
  }
  return html`<select id=${id} aria-invalid=${invalid} aria-describedby=${described} onChange=${(e) => onInput(e.target.value)}>
    <option value="" selected=${!value}>Choose a playbook…</option>
    ${books.map((b) => html`<option value=${b} selected=${b === value}>${b}</option>`)}
  </select>`;
}

// Prompt → the launch body key and its OPTIONS-like metadata.
const PROMPTS = [
  ['ask_variables_on_launch', 'extra_vars', { type: 'json', label: 'Variables', help_text: 'YAML or JSON extra variables.' }],
  ['ask_inventory_on_launch', 'inventory', { type: 'id', label: 'Inventory' }],
  ['ask_limit_on_launch', 'limit', { type: 'string', label: 'Limit' }],
  ['ask_job_type_on_launch', 'job_type', { type: 'choice', label: 'Job type', choices: [['run', 'Run'], ['check', 'Check']] }],
  ['ask_verbosity_on_launch', 'verbosity', { type: 'choice', label: 'Verbosity', choices: [[0, '0 (Normal)'], [1, '1 (Verbose)'], [2, '2 (More Verbose)'], [3, '3 (Debug)'], [4, '4 (Connection Debug)'], [5, '5 (WinRM Debug)']] }],
  ['ask_tags_on_launch', 'job_tags', { type: 'string', label: 'Job tags' }],
  ['ask_skip_tags_on_launch', 'skip_tags', { type: 'string', label: 'Skip tags' }],
  ['ask_diff_mode_on_launch', 'diff_mode', { type: 'boolean', label: 'Show changes' }],
  ['ask_forks_on_launch', 'forks', { type: 'integer', label: 'Forks' }],
  ['ask_timeout_on_launch', 'timeout', { type: 'integer', label: 'Timeout' }],
  ['ask_scm_branch_on_launch', 'scm_branch', { type: 'string', label: 'Source control branch' }],
];

function CredentialPicker({ id, value, onInput }) {
  const [all, setAll] = useState(null);
  if (all === null) listAll('/api/v2/credentials/?order_by=name').then(setAll, () => setAll([]));
  const chosen = new Set((value || []).map(Number));
  return html`<fieldset id=${id} class="checks"><legend class="sr">Credentials</legend>
    ${(all || []).map((c) => html`<label><input type="checkbox" checked=${chosen.has(c.id)} onChange=${(e) => {
      const next = new Set(chosen);
      if (e.target.checked) next.add(c.id); else next.delete(c.id);
      onInput([...next]);
    }} /> ${c.name}</label>`)}
  </fieldset>`;
}

/** Launches at once when nothing is asked; otherwise shows the prompts. */
function Launch({ id }) {
  const [info, error] = useApi(`/api/v2/job_templates/${id}/launch/`);
  const [values, setValues] = useState(null);
  const [errors, setErrors] = useState({});
  const [top, setTop] = useState(null);
  const [busy, setBusy] = useState(false);
  if (error) return html`<${Page} title="Launch"><${Alert} error=${error} /></${Page}>`;
  if (!info) return html`<p class="loading">Loading…</p>`;
  const asked = PROMPTS.filter(([ask]) => info[ask]);
  const askCreds = info.ask_credential_on_launch;
  const defaults = info.defaults || {};
  if (!values) {
    const v = {};
    for (const [, key] of asked) v[key] = key === 'inventory' ? defaults.inventory && defaults.inventory.id : defaults[key];
    if (askCreds) v.credentials = (defaults.credentials || []).map((c) => c.id);
    setValues(v);
    return null;
  }
  const launch = async (e) => {
    e && e.preventDefault();
    setBusy(true);
    setTop(null);
    const body = {};
    for (const [, key] of asked) if (values[key] !== undefined && values[key] !== null) body[key] = values[key];
    if (askCreds) body.credentials = values.credentials;
    try {
      const j = await api(`/api/v2/job_templates/${id}/launch/`, { method: 'POST', body });
      navigate(`/jobs/${j.id || j.job}`);
    } catch (err) {
      setBusy(false);
      const b = (err.status === 400 && err.body) || {};
      const known = {};
      const rest = [];
      for (const [k, v] of Object.entries(b)) {
        if (asked.some(([, key]) => key === k) || k === 'credentials') known[k] = v;
        else rest.push(`${k === 'detail' ? '' : `${k}: `}${[].concat(v).join(' ')}`);
      }
      setErrors(known);
      setTop(rest.join(' ') || (Object.keys(known).length ? 'Please correct the fields marked below.' : err.message));
    }
  };
  const name = (info.job_template_data && info.job_template_data.name) || `Template ${id}`;
  return html`<${Page} title=${`Launch ${name}`} crumbs=${[['/templates', 'Templates'], [`/templates/${id}`, name]]}>
    <form class="form" onSubmit=${launch} novalidate>
      <${Alert} error=${top} />
      ${!info.can_start_without_user_input && !asked.length && !askCreds && html`<p>This template cannot start: ${(info.variables_needed_to_start || []).join(', ')}</p>`}
      <div class="grid">
        ${asked.map(([, key, meta]) => html`<${Field} key=${key} name=${key} meta=${meta} value=${values[key]} error=${errors[key]}
          onInput=${(v) => setValues((o) => ({ ...o, [key]: v }))} />`)}
        ${askCreds && html`<${Field} name="credentials" meta=${{ type: 'list', label: 'Credentials' }} value=${values.credentials} error=${errors.credentials}
          override=${(p) => html`<${CredentialPicker} ...${p} />`} onInput=${(v) => setValues((o) => ({ ...o, credentials: v }))} />`}
      </div>
      <div class="buttons"><button class="primary" type="submit" disabled=${busy}>Launch</button>
        <button type="button" onClick=${() => history.back()}>Cancel</button></div>
    </form>
  </${Page}>`;
}

export default {
  nav: { href: '/templates', label: 'Templates', section: 'Resources' },
  routes: [
    { path: '/templates', view: () => html`<${Page} title="Templates"><${ResourceList} cfg=${cfg} /></${Page}>` },
    { path: '/templates/add', view: () => html`<${Page} title="New template" crumbs=${[['/templates', 'Templates']]}>
      <${ResourceForm} cfg=${cfg} initial=${query()} onSaved=${(r) => navigate(`/templates/${r.id}`)} /></${Page}>` },
    { path: '/templates/:id', view: ({ id }) => html`<${ResourceDetail} cfg=${cfg} id=${id}
      actions=${(row) => caps(row).start && html`<a class="button primary" href=${`/templates/${id}/launch`}>Launch</a>`}>
      ${() => html`<h2>Schedules</h2><${ResourceList} cfg=${schedules} prefix="sched_" base="/schedules" path=${`/api/v2/job_templates/${id}/schedules/`}
        createHref=${`/schedules/add?unified_job_template=${id}`} />`}
    </${ResourceDetail}>` },
    { path: '/templates/:id/edit', view: ({ id }) => html`<${Page} title="Edit template" crumbs=${[['/templates', 'Templates']]}>
      <${ResourceForm} cfg=${cfg} id=${id} onSaved=${() => navigate(`/templates/${id}`)} /></${Page}>` },
    { path: '/templates/:id/launch', view: ({ id }) => html`<${Launch} id=${id} />` },
  ],
};
