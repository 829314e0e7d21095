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
      this.h = h;
      this.known = k;
      this.tree = new Float64Array(cap + 1);
      for (let i = 0; i < this.n; i++) this._add(i, this.h[i]);
    }
    for (let i = this.n; i < n; i++) {
      this.h[i] = this.estimate;
      this._add(i, this.estimate);
    }
    this.total += (n - this.n) * this.estimate;
    this.n = n;
  }

  _add(i, d) {
    for (let j = i + 1; j < this.tree.length; j += j & -j) this.tree[j] += d;
  }

  /** Sets row i's height; returns the change. */
  set(i, lines) {
    if (i >= this.n) this.grow(i + 1);
    const d = lines - this.h[i];
    this.known[i] = 1;
    if (d !== 0) {
      this.h[i] = lines;
      this._add(i, d);
      this.total += d;
    }
    return d;
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

/** Page numbers (0-based, `size` events each: counters p*size+1 … (p+1)*size) covering rows
 * first…last, nearest the middle first, so what is on screen arrives first. */
export function pagesFor(first, last, size) {
  const a = Math.floor(first / size);
  const b = Math.floor(last / size);
  const mid = Math.floor((first + last) / 2 / size);
  const out = [];
  for (let p = a; p <= b; p++) out.push(p);
  return out.sort((x, y) => Math.abs(x - mid) - Math.abs(y - mid));
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
