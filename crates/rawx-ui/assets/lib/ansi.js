// ANSI SGR colours (what ansible-playbook writes) to HTML. Pure: no DOM, tested with
// `node --test`. Each event's stdout is rendered on its own, so no state crosses events.

const ESC = /\x1b\[([0-9;]*)([A-Za-z])|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[()][A-Za-z0-9]|\r(?!\n)/g;

export function escapeHtml(s) {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);
}

const blank = () => ({ fg: null, bg: null, bold: false, dim: false, italic: false, underline: false });

// xterm's 256-colour palette beyond the first 16 (which map to themed classes).
function xterm(n) {
  if (n < 232) {
    const i = n - 16, steps = [0, 95, 135, 175, 215, 255];
    return `rgb(${steps[Math.floor(i / 36)]},${steps[Math.floor(i / 6) % 6]},${steps[i % 6]})`;
  }
  const g = 8 + (n - 232) * 10;
  return `rgb(${g},${g},${g})`;
}

function colour(codes, i) {
  // 38;5;n or 38;2;r;g;b (and 48;…): returns [colour, codes consumed after the 38/48].
  if (codes[i + 1] === 5 && codes.length > i + 2) {
    const n = codes[i + 2];
    return [n < 16 ? n : xterm(n), 2];
  }
  if (codes[i + 1] === 2 && codes.length > i + 4) {
    return [`rgb(${codes[i + 2]},${codes[i + 3]},${codes[i + 4]})`, 4];
  }
  return [null, 0];
}

function apply(st, params) {
  const codes = params === '' ? [0] : params.split(';').map((x) => (x === '' ? 0 : parseInt(x, 10)));
  for (let i = 0; i < codes.length; i++) {
    const c = codes[i];
    if (c === 0) Object.assign(st, blank());
    else if (c === 1) st.bold = true;
    else if (c === 2) st.dim = true;
    else if (c === 3) st.italic = true;
    else if (c === 4) st.underline = true;
    else if (c === 22) st.bold = st.dim = false;
    else if (c === 23) st.italic = false;
    else if (c === 24) st.underline = false;
    else if (c >= 30 && c <= 37) st.fg = c - 30;
    else if (c >= 90 && c <= 97) st.fg = c - 90 + 8;
    else if (c === 39) st.fg = null;
    else if (c >= 40 && c <= 47) st.bg = c - 40;
    else if (c >= 100 && c <= 107) st.bg = c - 100 + 8;
    else if (c === 49) st.bg = null;
    else if (c === 38 || c === 48) {
      const [col, used] = colour(codes, i);
      if (c === 38) st.fg = col; else st.bg = col;
      i += used;
    }
  }
}

/** Splits text into runs of one style: `[{text, fg, bg, bold, dim, italic, underline}]`.
 * `fg`/`bg` are 0–15 (a themed colour), a CSS colour string, or null. Escape sequences that
 * are not SGR (cursor moves, titles) are dropped; a lone `\r` ends up as nothing. */
export function parse(text) {
  const out = [];
  let st = blank();
  let last = 0;
  const push = (s) => {
    if (!s) return;
    const prev = out[out.length - 1];
    if (prev && same(prev, st)) prev.text += s;
    else out.push({ text: s, ...st });
  };
  ESC.lastIndex = 0;
  for (let m; (m = ESC.exec(text)); ) {
    push(text.slice(last, m.index));
    last = ESC.lastIndex;
    if (m[2] === 'm') {
      st = { ...st };
      apply(st, m[1]);
    }
  }
  push(text.slice(last));
  return out;
}

function same(a, b) {
  return a.fg === b.fg && a.bg === b.bg && a.bold === b.bold && a.dim === b.dim &&
    a.italic === b.italic && a.underline === b.underline;
}

/** HTML for text with ANSI colours: escaped text in `<span>`s with `a-fN`/`a-bN` classes for
 * the 16 themed colours (so they follow light/dark), inline colours for 256/true colour. */
export function toHtml(text) {
  let html = '';
  for (const run of parse(text)) {
    const cls = [];
    const style = [];
    if (typeof run.fg === 'number') cls.push(`a-f${run.fg}`);
    else if (run.fg) style.push(`color:${run.fg}`);
    if (typeof run.bg === 'number') cls.push(`a-b${run.bg}`);
    else if (run.bg) style.push(`background:${run.bg}`);
    if (run.bold) cls.push('a-b');
    if (run.dim) cls.push('a-d');
    if (run.italic) cls.push('a-i');
    if (run.underline) cls.push('a-u');
    const body = escapeHtml(run.text);
    if (!cls.length && !style.length) html += body;
    else html += `<span${cls.length ? ` class="${cls.join(' ')}"` : ''}${style.length ? ` style="${style.join(';')}"` : ''}>${body}</span>`;
  }
  return html;
}

/** Text without any escape sequence (for search and copy). */
export function strip(text) {
  return parse(text).map((r) => r.text).join('');
}
