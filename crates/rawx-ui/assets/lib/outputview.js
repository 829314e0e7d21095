// The job output as a virtualised list: only the events on screen (plus a margin) are in the
// DOM, each placed at its line offset (`Heights`), so a 100,000-event job scrolls as fast as
// a short one. Pages of events load on demand as they come into view; live events from the
// websocket go straight in. Rendering happens at most once per animation frame, however fast
// events arrive, which is what keeps a job emitting thousands of events a second smooth.
// Plays and tasks fold: the job's outline (its play/task start events, loaded apart with
// `addOutline`, plus any seen live) says which counters each spans; a collapsed one gives
// those rows no height, so they are neither drawn nor fetched.
import { Heights, lineCount, Outline, hiddenEnd, pagesOfRows } from './output.js';
import { toHtml, escapeHtml } from './ansi.js';

const OVERSCAN = 30; // events rendered beyond each edge of the screen
const MAX_INFLIGHT = 3;

export class OutputView {
  /**
   * @param {HTMLElement} el the scroll container (its height is fixed by CSS)
   * @param {{loadPage: (p:number)=>Promise<object[]>, pageSize:number, onSelect?: (ev)=>void,
   *          onFollow?: (on:boolean)=>void}} opts
   */
  constructor(el, opts) {
    this.el = el;
    this.opts = opts;
    this.pageSize = opts.pageSize;
    this.heights = new Heights(1);
    this.events = new Map(); // counter → {counter, id, html, event, host_name, stdout}
    this.pages = new Map(); // page → 'loading' | 'done'
    this.inflight = 0;
    this.wanted = [];
    this.follow = false;
    this.lh = 18;
    this.drawn = '';
    this.raf = 0;
    this.ourScroll = false;
    this.outline = new Outline();
    this.ranges = []; // what the collapsed heads hide, as applied to `heights`
    this.maskKey = '';
    el.classList.add('output');
    el.tabIndex = 0;
    el.setAttribute('role', 'log');
    el.setAttribute('aria-label', 'Job output');
    this.spacer = document.createElement('div');
    this.spacer.className = 'spacer';
    this.rows = document.createElement('div');
    this.rows.className = 'rows';
    el.append(this.spacer, this.rows);
    // The line height is whatever the stylesheet makes it.
    const probe = document.createElement('div');
    probe.className = 'ev';
    probe.textContent = 'x';
    this.rows.append(probe);
    this.lh = probe.getBoundingClientRect().height || 18;
    probe.remove();
    this.onScroll = () => {
      if (this.ourScroll) {
        this.ourScroll = false;
      } else if (this.follow && !this.atEnd()) {
        this.setFollow(false);
      } else if (!this.follow && this.atEnd() && this.opts.live && this.opts.live()) {
        this.setFollow(true);
      }
      this.schedule();
    };
    el.addEventListener('scroll', this.onScroll, { passive: true });
    this.onClick = (e) => {
      const fold = e.target.closest('.fold');
      if (fold) {
        this.toggle(Number(fold.dataset.fold));
        return;
      }
      const row = e.target.closest('.ev');
      if (row && this.opts.onSelect) {
        const ev = this.events.get(Number(row.dataset.c));
        if (ev) this.opts.onSelect(ev);
      }
    };
    el.addEventListener('click', this.onClick);
    this.resize = new ResizeObserver(() => this.schedule());
    this.resize.observe(el);
  }

  destroy() {
    cancelAnimationFrame(this.raf);
    this.resize.disconnect();
    this.el.removeEventListener('scroll', this.onScroll);
    this.el.removeEventListener('click', this.onClick);
    this.destroyed = true;
  }

  atEnd() {
    return this.el.scrollTop + this.el.clientHeight >= this.el.scrollHeight - this.lh * 2;
  }

  setFollow(on) {
    if (this.follow === on) return;
    this.follow = on;
    if (this.opts.onFollow) this.opts.onFollow(on);
    this.schedule();
  }

  /** The highest counter known: rows up to it exist (unloaded ones as placeholders). */
  setTotal(n) {
    if (n > this.heights.n) {
      this.heights.grow(n);
      this.schedule();
    }
  }

  get total() {
    return this.heights.n;
  }

  /** Play/task start events (and the recap): where each play and task starts and ends. */
  addOutline(list) {
    if (this.outline.add(list)) this.schedule();
  }

  /** Collapses or expands the play or task starting at `counter`. */
  toggle(counter) {
    if (this.outline.toggle(counter)) {
      this.setFollow(false);
      this.schedule();
    }
  }

  /** Adds events (a loaded page or live ones); keeps what is on screen where it is. */
  add(list) {
    if (!list.length) return;
    this.outline.add(list);
    const firstShown = this.heights.rowAt(this.el.scrollTop / this.lh);
    let above = 0;
    for (const ev of list) {
      if (!ev.counter) continue;
      const i = ev.counter - 1;
      if (i >= this.heights.n) this.heights.grow(i + 1);
      const lines = lineCount(ev.stdout);
      const d = this.heights.set(i, lines);
      if (i < firstShown) above += d;
      if (!this.events.has(ev.counter)) {
        this.events.set(ev.counter, {
          counter: ev.counter, id: ev.id, event: ev.event, host_name: ev.host_name, failed: ev.failed,
          html: lines ? toHtml(ev.stdout.replace(/\r?\n$/, '')) : '',
        });
      }
    }
    // Events above the screen changed height: move by as much, so the view does not jump.
    if (above && !this.follow) {
      this.ourScroll = true;
      this.el.scrollTop += above * this.lh;
    }
    this.schedule();
  }

  /** Marks counters of a loaded page that do not exist (gaps) as empty. */
  settlePage(p, list) {
    const have = new Set(list.map((e) => e.counter));
    const last = Math.min((p + 1) * this.pageSize, this.heights.n);
    for (let c = p * this.pageSize + 1; c <= last; c++) if (!have.has(c) && !this.events.has(c)) this.heights.set(c - 1, 0);
  }

  schedule() {
    if (!this.raf && !this.destroyed) this.raf = requestAnimationFrame(() => {
      this.raf = 0;
      this.render();
    });
  }

  /** Brings event `counter` to the top of the screen (follow mode off). */
  scrollToCounter(counter) {
    this.setFollow(false);
    this.ourScroll = true;
    this.el.scrollTop = this.heights.offset(Math.max(0, counter - 1)) * this.lh;
    this.schedule();
  }

  scrollToEnd() {
    this.ourScroll = true;
    this.el.scrollTop = this.el.scrollHeight;
    this.schedule();
  }

  render() {
    const h = this.heights;
    const lh = this.lh;
    const o = this.outline;
    // Re-mask when the folds, the outline or the number of rows changed (O(rows), per frame at most).
    if (this.opts.onOutline && this.shownVersion !== o.version) {
      this.shownVersion = o.version;
      this.opts.onOutline(o.heads.filter((x) => x.kind !== 'end'));
    }
    if (o.collapsed.size || this.ranges.length) {
      const mk = `${o.version}:${h.n}`;
      if (mk !== this.maskKey) {
        this.maskKey = mk;
        this.ranges = o.hidden(h.n);
        h.mask(this.ranges);
      }
    }
    this.spacer.style.height = `${Math.ceil(h.total * lh) + lh}px`;
    if (this.follow) {
      const bottom = this.spacer.offsetHeight - this.el.clientHeight;
      if (Math.abs(this.el.scrollTop - bottom) > 1) {
        this.ourScroll = true;
        this.el.scrollTop = bottom;
      }
    }
    if (h.n === 0) {
      if (this.drawn !== 'empty') this.rows.innerHTML = '';
      this.drawn = 'empty';
      return;
    }
    const top = this.el.scrollTop / lh;
    const bottom = top + this.el.clientHeight / lh;
    const first = Math.max(0, h.rowAt(top) - OVERSCAN);
    const last = Math.min(h.n - 1, h.rowAt(bottom) + OVERSCAN);
    let out = '';
    let key = `${first}:${last}:${o.version}:`;
    const pending = [];
    for (let i = first; i <= last; i++) {
      if (h.isHidden(i)) {
        // Jump over a collapsed play or task at once, however many events it holds.
        i = hiddenEnd(this.ranges, i + 1) - 1;
        continue;
      }
      const ev = this.events.get(i + 1);
      if (ev) {
        if (!ev.html) continue;
        key += `${i},`;
        const kind = o.foldable(i + 1);
        let fold = '';
        if (kind) {
          const shut = o.isCollapsed(i + 1);
          const [a, b] = o.span(i + 1, h.n);
          // Named for screen readers ("Collapse TASK install"); names are the playbook's: escaped.
          const what = escapeHtml(`${kind === 'play' ? 'PLAY' : 'TASK'} ${o.byCounter.get(i + 1).name || `at event ${i + 1}`}`);
          fold = `<button class="fold" data-fold="${i + 1}" aria-expanded="${!shut}" aria-label="${shut ? 'Expand' : 'Collapse'} ${what}">${shut ? '▸' : '▾'}</button>`;
          if (shut) fold += `<span class="folded" data-hidden="${Math.max(0, b - a + 1)}">${Math.max(0, b - a + 1)} events hidden</span>`;
        }
        out += `<div class="ev${ev.failed ? ' failed' : ''}${kind ? ' head' : ''}" data-c="${i + 1}" style="top:${h.offset(i) * lh}px">${fold}${ev.html}</div>`;
      } else if (!h.isKnown(i)) {
        key += `-${i},`;
        pending.push(i);
        out += `<div class="ev pending" style="top:${h.offset(i) * lh}px" aria-hidden="true">…</div>`;
      }
    }
    this.request(pending);
    if (key !== this.drawn) {
      // Keep keyboard focus on a fold button across the redraw.
      const act = document.activeElement;
      const focused = act && this.rows.contains(act) && act.dataset.fold;
      this.rows.innerHTML = out;
      this.drawn = key;
      if (focused) {
        const again = this.rows.querySelector(`[data-fold="${focused}"]`);
        if (again) again.focus({ preventScroll: true });
      }
    }
  }

  /** Asks for the pages holding the rows on screen not yet loaded (nor loading). */
  request(rows) {
    this.wanted = pagesOfRows(rows, this.pageSize).filter((p) => !this.pages.has(p) && !this.fullyKnown(p));
    this.pump();
  }

  fullyKnown(p) {
    const last = Math.min((p + 1) * this.pageSize, this.heights.n);
    for (let c = p * this.pageSize + 1; c <= last; c++) if (!this.events.has(c) && !this.heights.isKnown(c - 1)) return false;
    return true;
  }

  pump() {
    while (this.inflight < MAX_INFLIGHT && this.wanted.length) {
      const p = this.wanted.shift();
      if (this.pages.has(p)) continue;
      this.pages.set(p, 'loading');
      this.inflight++;
      this.opts.loadPage(p).then(
        (list) => {
          this.inflight--;
          this.pages.set(p, 'done');
          this.add(list);
          this.settlePage(p, list);
          this.schedule();
          this.pump();
        },
        () => {
          // Forget it: the next render asks again.
          this.inflight--;
          this.pages.delete(p);
          setTimeout(() => this.schedule(), 1000);
        },
      );
    }
  }

  /** Forgets loaded pages from `counter` on (after a reconnect: re-read what may be missing). */
  reloadFrom(counter) {
    const p0 = Math.floor(counter / this.pageSize);
    for (const p of [...this.pages.keys()]) if (p >= p0) this.pages.delete(p);
    this.schedule();
  }
}
