// The one way the UI talks to rawx: `/api/…` with the session cookie, AWX's CSRF header on
// unsafe methods, JSON in and out. A 401 while logged in means the session expired.

export function cookie(name) {
  const m = document.cookie.match(new RegExp(`(?:^|; )${name}=([^;]*)`));
  return m ? decodeURIComponent(m[1]) : null;
}

export class ApiError extends Error {
  constructor(status, body) {
    super(errorText(body) || `HTTP ${status}`);
    this.status = status;
    this.body = body || {};
  }
}

/** The message of an error body that is not about one field. */
export function errorText(body) {
  if (!body || typeof body !== 'object') return body ? String(body) : '';
  for (const k of ['detail', 'error', 'msg', '__all__', 'non_field_errors']) {
    if (body[k]) return Array.isArray(body[k]) ? body[k].join(' ') : String(body[k]);
  }
  return '';
}

const listeners = new Set();
/** Called with no argument when a request answers 401 (session gone). */
export function onUnauthorized(f) {
  listeners.add(f);
  return () => listeners.delete(f);
}

export async function api(path, { method = 'GET', body } = {}) {
  const headers = { Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (!['GET', 'HEAD', 'OPTIONS'].includes(method)) headers['X-CSRFToken'] = cookie('csrftoken') || '';
  const r = await fetch(path, {
    method,
    headers,
    credentials: 'same-origin',
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await r.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = { detail: text };
  }
  if (r.status === 401) listeners.forEach((f) => f());
  if (!r.ok) throw new ApiError(r.status, data);
  return data;
}

/** Every page of a list (small lists only: choices for a select). */
export async function listAll(path, max = 1000) {
  const out = [];
  let next = path + (path.includes('?') ? '&' : '?') + 'page_size=200';
  while (next && out.length < max) {
    const p = await api(next);
    out.push(...p.results);
    next = p.next;
  }
  return out;
}

export async function me() {
  const r = await api('/api/v2/me/');
  return r.results[0];
}

/** AWX's session login: GET /api/ for the csrftoken cookie, then the form with it. */
export async function login(username, password) {
  await fetch('/api/', { credentials: 'same-origin' });
  const r = await fetch('/api/login/', {
    method: 'POST',
    credentials: 'same-origin',
    redirect: 'manual',
    headers: { 'X-CSRFToken': cookie('csrftoken') || '', 'Content-Type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ username, password, next: '/api/v2/me/' }),
  });
  // Success is a redirect (opaque here); a refusal is the form again with 401.
  if (r.type !== 'opaqueredirect' && !r.ok) {
    throw new ApiError(r.status, { detail: r.status === 401 ? 'Invalid username or password. Please try again.' : `Login failed (HTTP ${r.status}).` });
  }
  return me();
}

export async function logout() {
  await fetch('/api/logout/', {
    method: 'POST',
    credentials: 'same-origin',
    redirect: 'manual',
    headers: { 'X-CSRFToken': cookie('csrftoken') || '' },
  });
}

export function qs(params) {
  const u = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') u.set(k, v);
  const s = u.toString();
  return s ? `?${s}` : '';
}
