// The job output's model, pure (tested with `node --test`): which events exist, how many
// lines each takes, where each starts, which pages of events to fetch. The DOM side is
// `outputview.js`. Events are numbered by `counter` (1…N); row i is counter i + 1.

/** A Fenwick tree of row heights (in lines): prefix sums and "which row is at line y" in
 * O(log n), so 100,000 rows of unknown, then known, heights cost nothing to place. */
export class Heights {
  constructor(estimate = 1) {
    this.estimate = estimate;
    this.n = 0;
    this.tree = new Float64Array(1);
    this.h = new Float64Array(0);
    this.known = new Uint8Array(0);
    this.hid = new Uint8Array(0); // rows inside a collapsed play or task: height 0
    this.total = 0;
  }

  /** Grows to `n` rows; new rows have the estimated height until `set`. */
  grow(n) {
    if (n <= this.n) return;
    let cap = this.h.length;
    if (n > cap) {
      cap = Math.max(n, cap * 2, 1024);
      const h = new Float64Array(cap);
      h.set(this.h.subarray(0, this.n));
      const k = new Uint8Array(cap);
      k.set(this.known.subarray(0, this.n));
      const x = new Uint8Array(cap);
      x.set(this.hid.subarray(0, this.n));
      this.h = h;
      this.known = k;
      this.hid = x;
      this.tree = new Float64Array(cap + 1);
      this._build();
    }
    for (let i = this.n; i < n; i++) {
      this.h[i] = this.estimate;
      this._add(i, this.estimate);
    }
    this.total += (n - this.n) * this.estimate;
    this.n = n;
  }

  /** The tree from scratch in O(n) (each node passes its sum to its parent). */
  _build() {
    const t = this.tree;
    t.fill(0);
    for (let i = 0; i < this.n; i++) {
      const j = i + 1;
      t[j] += this.hid[i] ? 0 : this.h[i];
      const up = j + (j & -j);
      if (up < t.length) t[up] += t[j];
    }
  }

  _add(i, d) {
    for (let j = i + 1; j < this.tree.length; j += j & -j) this.tree[j] += d;
  }

  /** Sets row i's height; returns the change. */
  set(i, lines) {
    if (i >= this.n) this.grow(i + 1);
    const d = lines - this.h[i];
    this.known[i] = 1;
    this.h[i] = lines;
    if (d === 0 || this.hid[i]) return 0;
    this._add(i, d);
    this.total += d;
    return d;
  }

  isHidden(i) {
    return i < this.n && this.hid[i] === 1;
  }

  /** Hides exactly the rows of `ranges` (sorted, merged [from, to] counters; row = counter - 1)
   * and shows all others, keeping every row's own height for when it shows again. O(n). */
  mask(ranges) {
    this.hid.fill(0);
    for (const [from, to] of ranges) {
      const a = Math.max(0, from - 1);
      const b = Math.min(this.n, to);
      if (a < b) this.hid.fill(1, a, b);
    }
    this._build();
    this.total = this.offset(this.n);
  }

  isKnown(i) {
    return i < this.n && this.known[i] === 1;
  }

  /** Lines above row i. */
  offset(i) {
    let s = 0;
    for (let j = Math.min(i, this.n); j > 0; j -= j & -j) s += this.tree[j];
    return s;
  }

  /** The row that covers line y (the last row when y is past the end). */
  rowAt(y) {
    if (this.n === 0) return 0;
    let pos = 0;
    let rem = y;
    let step = 1;
    while (step * 2 < this.tree.length) step *= 2;
    for (; step > 0; step >>= 1) {
      const nxt = pos + step;
      if (nxt < this.tree.length && nxt <= this.n && this.tree[nxt] <= rem) {
        pos = nxt;
        rem -= this.tree[nxt];
      }
    }
    return Math.min(pos, this.n - 1);
  }
}

/** Lines an event's stdout takes (ansible ends most with `\r\n`; an empty one takes none). */
export function lineCount(stdout) {
  if (!stdout) return 0;
  const s = stdout.replace(/\r?\n$/, '');
  let n = 1;
  for (let i = s.indexOf('\n'); i !== -1; i = s.indexOf('\n', i + 1)) n++;
  return n;
}

/** The job events query for page p: AWX's filters, ordered by counter. */
export function pageQuery(p, size) {
  return `order_by=counter&counter__gt=${p * size}&counter__lte=${(p + 1) * size}&page_size=${size}`;
}

/** Host status counts from events seen live (AWX only writes `host_status_counts` at the
 * end): the last per-host outcome wins, as in the play recap. */
export function tallyHosts(hosts, ev) {
  const outcome = {
    runner_on_ok: ev.changed ? 'changed' : 'ok',
    runner_on_failed: ev.event_data && ev.event_data.ignore_errors ? 'ok' : 'failures',
    runner_on_unreachable: 'dark',
    runner_on_skipped: 'skipped',
  }[ev.event];
  if (!outcome || !ev.host_name) return false;
  const prev = hosts.get(ev.host_name);
  // A failure or unreachable stays; changed beats ok, as the recap's precedence.
  const rank = { skipped: 0, ok: 1, changed: 2, failures: 3, dark: 3 };
  if (prev && rank[prev] > rank[outcome]) return false;
  hosts.set(ev.host_name, outcome);
  return true;
}

export function countHosts(hosts) {
  const c = { ok: 0, changed: 0, failures: 0, dark: 0, skipped: 0 };
  for (const v of hosts.values()) c[v]++;
  return c;
}

// Plays and tasks, collapsible. Their boundaries come from the job's play/task start events (and
// the recap), fetched on their own as an outline, so a collapsed play hides the counters it spans
// even where the events in between were never loaded. A play runs to the next play (or the
// recap, or the end of the job so far); a task to the next task, play or recap.
const HEAD_KIND = {
  playbook_on_play_start: 'play',
  playbook_on_task_start: 'task',
  playbook_on_handler_task_start: 'task',
  playbook_on_stats: 'end',
};
export const OUTLINE_EVENTS = Object.keys(HEAD_KIND).join(',');

export class Outline {
  constructor() {
    this.heads = []; // {counter, kind}, sorted by counter
    this.byCounter = new Map();
    this.collapsed = new Set(); // counters of collapsed heads
    this.version = 0; // bumps on every change, so views know to re-mask
  }

  /** Takes the heads among `events` (any order, duplicates fine); returns whether any was new. */
  add(events) {
    let changed = false;
    for (const ev of events) {
      const kind = HEAD_KIND[ev.event];
      if (!kind || !ev.counter || this.byCounter.has(ev.counter)) continue;
      const head = { counter: ev.counter, kind, name: (kind === 'play' ? ev.play : ev.task) || '' };
      this.byCounter.set(ev.counter, head);
      // Nearly always appended (events come in counter order): search only when not.
      const hs = this.heads;
      if (!hs.length || hs[hs.length - 1].counter < ev.counter) hs.push(head);
      else hs.splice(lowerBound(hs, ev.counter), 0, head);
      changed = true;
    }
    if (changed) this.version++;
    return changed;
  }

  /** The kind of head at `counter` that can fold ('play' | 'task'), or undefined. */
  foldable(counter) {
    const h = this.byCounter.get(counter);
    return h && h.kind !== 'end' ? h.kind : undefined;
  }

  isCollapsed(counter) {
    return this.collapsed.has(counter);
  }

  toggle(counter) {
    if (!this.foldable(counter)) return false;
    if (this.collapsed.has(counter)) this.collapsed.delete(counter);
    else this.collapsed.add(counter);
    this.version++;
    return true;
  }

  /** The counters a head spans below itself: [counter + 1, end], `end` capped at `total`. */
  span(counter, total) {
    const hs = this.heads;
    const i = lowerBound(hs, counter);
    const kind = hs[i].kind;
    let end = total;
    for (let j = i + 1; j < hs.length; j++) {
      if (kind === 'task' || hs[j].kind !== 'task') {
        end = hs[j].counter - 1;
        break;
      }
    }
    return [counter + 1, Math.min(end, total)];
  }

  /** What the collapsed heads hide, as sorted, merged [from, to] counter ranges. */
  hidden(total) {
    const spans = [...this.collapsed].sort((a, b) => a - b).map((c) => this.span(c, total)).filter(([a, b]) => a <= b);
    const out = [];
    for (const [a, b] of spans) {
      const last = out[out.length - 1];
      if (last && a <= last[1] + 1) last[1] = Math.max(last[1], b);
      else out.push([a, b]);
    }
    return out;
  }
}

function lowerBound(heads, counter) {
  let lo = 0;
  let hi = heads.length;
  while (lo < hi) {
    const m = (lo + hi) >> 1;
    if (heads[m].counter < counter) lo = m + 1;
    else hi = m;
  }
  return lo;
}

/** The last counter of the hidden range holding `counter`, or 0 if it is not hidden. */
export function hiddenEnd(ranges, counter) {
  let lo = 0;
  let hi = ranges.length - 1;
  while (lo <= hi) {
    const m = (lo + hi) >> 1;
    if (ranges[m][1] < counter) lo = m + 1;
    else if (ranges[m][0] > counter) hi = m - 1;
    else return ranges[m][1];
  }
  return 0;
}

/** Pages (as `pageQuery` numbers) holding the given rows, nearest the middle one first. */
export function pagesOfRows(rows, size) {
  if (!rows.length) return [];
  const mid = Math.floor(rows[rows.length >> 1] / size);
  const set = new Set(rows.map((r) => Math.floor(r / size)));
  return [...set].sort((x, y) => Math.abs(x - mid) - Math.abs(y - mid));
}
