// The shell: who is logged in, the login and session-expired pages, the navigation, and the
// routes every view module (`views/index.js`) contributes.
import { html, render, useState, useEffect } from './vendor/preact-htm.js';
import { login, logout, me, onUnauthorized, ApiError } from './lib/api.js';
import { match, onRoute, navigate } from './lib/router.js';
import * as live from './lib/ws.js';
import { VIEWS } from './views/index.js';

const routes = VIEWS.flatMap((v) => v.routes || []);
// Fixed paths (`/templates/add`) win over parameters (`/templates/:id`).
routes.sort((a, b) => (a.path.includes(':') ? 1 : 0) - (b.path.includes(':') ? 1 : 0));

function Login({ expired, onLogin }) {
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  useEffect(() => {
    document.title = expired ? 'Session expired | rawx' : 'Log in | rawx';
  }, [expired]);
  const submit = async (e) => {
    e.preventDefault();
    const f = new FormData(e.target);
    setBusy(true);
    try {
      onLogin(await login(f.get('username'), f.get('password')));
    } catch (err) {
      setBusy(false);
      setError(err instanceof ApiError ? err.message : 'Cannot reach the server.');
    }
  };
  return html`<main class="login" id="main">
    <form class="card" onSubmit=${submit}>
      <h1><span class="logo" aria-hidden="true">◆</span> rawx</h1>
      ${expired && html`<div class="alert info" role="status" id="session-expired">Your session has expired. Log in again to continue.</div>`}
      ${error && html`<div class="alert error" role="alert">${error}</div>`}
      <label for="username">Username</label>
      <input id="username" name="username" autocomplete="username" required autofocus />
      <label for="password">Password</label>
      <input id="password" name="password" type="password" autocomplete="current-password" required />
      <button class="primary" type="submit" disabled=${busy}>Log in</button>
    </form>
  </main>`;
}

function Nav({ path, user }) {
  const sections = [];
  for (const v of VIEWS) {
    if (!v.nav || (v.nav.admin && !user.is_superuser && !user.is_system_auditor)) continue;
    let s = sections.find((x) => x.name === v.nav.section);
    if (!s) sections.push((s = { name: v.nav.section, items: [] }));
    s.items.push(v.nav);
  }
  return html`<nav class="side" aria-label="Main">
    ${sections.map((s) => html`<div class="nav-section"><h2>${s.name}</h2><ul>
      ${s.items.map((i) => html`<li><a href=${i.href} aria-current=${path === i.href || path.startsWith(`${i.href}/`) ? 'page' : undefined}>${i.label}</a></li>`)}
    </ul></div>`)}
  </nav>`;
}

function NotFound() {
  return html`<section class="page"><h1>Not found</h1><p>No page here. <a href="/">Go to the dashboard</a>.</p></section>`;
}

function App() {
  const [user, setUser] = useState(undefined); // undefined: checking; null: logged out
  const [expired, setExpired] = useState(false);
  const [path, setPath] = useState(location.pathname);
  const [menu, setMenu] = useState(false);
  useEffect(() => onRoute(() => (setPath(location.pathname), setMenu(false))), []);
  useEffect(() => {
    me().then(setUser, () => setUser(null));
  }, []);
  useEffect(
    () =>
      onUnauthorized(() => {
        // A 401 after logging in: the session ended (expired, or logged out elsewhere).
        setUser((u) => {
          if (u) setExpired(true);
          return null;
        });
      }),
    [],
  );
  useEffect(() => {
    if (user) live.start();
    else live.stop();
  }, [user]);
  if (user === undefined) return html`<p class="loading">Loading…</p>`;
  if (!user) {
    return html`<${Login} expired=${expired} onLogin=${(u) => {
      setExpired(false);
      setUser(u);
      if (location.pathname === '/login') navigate('/');
    }} />`;
  }
  let view = null;
  const p = path === '/' ? '/dashboard' : path;
  for (const r of routes) {
    const params = match(r.path, p);
    if (params) {
      view = r.view({ ...params, user });
      break;
    }
  }
  const doLogout = async () => {
    await logout();
    live.stop();
    setUser(null);
    navigate('/');
  };
  return html`<div class=${`shell${menu ? ' menu-open' : ''}`}>
    <a class="skip" href="#main">Skip to content</a>
    <header class="top">
      <button class="menu-btn" aria-expanded=${menu} aria-controls="sidenav" onClick=${() => setMenu(!menu)}>Menu</button>
      <a class="brand" href="/"><span class="logo" aria-hidden="true">◆</span> rawx</a>
      <span class="grow"></span>
      <span class="who" id="current-user">${user.username}${user.is_superuser ? ' (admin)' : ''}</span>
      <button onClick=${doLogout}>Log out</button>
    </header>
    <div id="sidenav"><${Nav} path=${p} user=${user} /></div>
    <main id="main" tabindex="-1">${view || html`<${NotFound} />`}</main>
  </div>`;
}

render(html`<${App} />`, document.getElementById('app'));
