// History routing: `/jobs/7` etc. (the server answers index.html for each route's first
// segment, `CLIENT_ROUTES` in src/lib.rs). Links are plain `<a href>`: clicks on same-origin
// links are intercepted, so middle-click and "open in new tab" keep working.

const subs = new Set();

export function navigate(to, { replace = false } = {}) {
  if (to === location.pathname + location.search) return;
  history[replace ? 'replaceState' : 'pushState'](null, '', to);
  subs.forEach((f) => f());
  window.scrollTo(0, 0);
}

export function onRoute(f) {
  subs.add(f);
  return () => subs.delete(f);
}

window.addEventListener('popstate', () => subs.forEach((f) => f()));
document.addEventListener('click', (e) => {
  if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
  const a = e.target.closest && e.target.closest('a[href]');
  if (!a || a.target || a.hasAttribute('download')) return;
  const url = new URL(a.href, location.href);
  if (url.origin !== location.origin || url.pathname.startsWith('/api/') || url.pathname.startsWith('/static/')) return;
  e.preventDefault();
  navigate(url.pathname + url.search);
});

/** Matches `/jobs/:id` against a path: the params, or null. */
export function match(pattern, path) {
  const p = pattern.split('/').filter(Boolean);
  const s = path.split('/').filter(Boolean);
  if (p.length !== s.length) return null;
  const params = {};
  for (let i = 0; i < p.length; i++) {
    if (p[i].startsWith(':')) params[p[i].slice(1)] = decodeURIComponent(s[i]);
    else if (p[i] !== s[i]) return null;
  }
  return params;
}

/** The query string as an object, and a way to change it (replacing the history entry). */
export function query() {
  return Object.fromEntries(new URLSearchParams(location.search));
}

export function setQuery(changes) {
  const q = { ...query(), ...changes };
  const u = new URLSearchParams();
  for (const [k, v] of Object.entries(q)) if (v !== undefined && v !== null && v !== '') u.set(k, v);
  const s = u.toString();
  navigate(location.pathname + (s ? `?${s}` : ''), { replace: true });
}
