// AWX's websocket protocol (`/websocket/`): the server accepts, then each subscription message
// carries the csrftoken cookie as `xrftoken` and the whole set of groups. Reconnects with
// backoff; after a reconnect (or a 4000/4001 close: this client fell behind) listeners get
// `{type: 'reconnected'}` and re-read what they missed from the API.

const listeners = new Set();
const eventGroups = new Map(); // "job_events" → Map(id → subscribers)
let ws = null;
let ready = false;
let retry = 0;
let stopped = true;
let everOpen = false;

import { cookie } from './api.js';

function groups() {
  const g = { jobs: ['status_changed', 'summary'] };
  for (const [name, ids] of eventGroups) if (ids.size) g[name] = [...ids.keys()];
  return g;
}

function subscribe() {
  if (ws && ready) ws.send(JSON.stringify({ xrftoken: cookie('csrftoken') || '', groups: groups() }));
}

function connect() {
  const proto = location.protocol === 'https:' ? 'wss' : 'ws';
  const sock = new WebSocket(`${proto}://${location.host}/websocket/`);
  ws = sock;
  sock.onmessage = (m) => {
    let d;
    try {
      d = JSON.parse(m.data);
    } catch {
      return;
    }
    if (d.accept) {
      ready = true;
      retry = 0;
      subscribe();
      if (everOpen) listeners.forEach((f) => f({ type: 'reconnected' }));
      everOpen = true;
      return;
    }
    if (d.groups_current) return;
    listeners.forEach((f) => f(d));
  };
  sock.onclose = () => {
    ready = false;
    if (ws === sock) ws = null;
    if (stopped) return;
    const delay = Math.min(10000, 250 * 2 ** retry++);
    setTimeout(() => !stopped && !ws && connect(), delay);
  };
}

export function start() {
  if (!stopped) return;
  stopped = false;
  connect();
}

export function stop() {
  stopped = true;
  everOpen = false;
  if (ws) ws.close();
  ws = null;
}

/** Listens to every message; returns the function that stops listening. */
export function listen(f) {
  listeners.add(f);
  return () => listeners.delete(f);
}

/** Subscribes to a job's events group (`job_events`, `ad_hoc_command_events`). */
export function watch(group, id) {
  if (!eventGroups.has(group)) eventGroups.set(group, new Map());
  const ids = eventGroups.get(group);
  ids.set(id, (ids.get(id) || 0) + 1);
  subscribe();
  return () => {
    const n = ids.get(id) - 1;
    if (n > 0) ids.set(id, n);
    else ids.delete(id);
    subscribe();
  };
}
