import test from 'node:test';
import assert from 'node:assert/strict';
import { parse, toHtml, strip, escapeHtml } from './ansi.js';

test('plain text is escaped and unstyled', () => {
  assert.equal(toHtml('<b>&"x"</b>'), '&lt;b&gt;&amp;&quot;x&quot;&lt;/b&gt;');
  assert.equal(escapeHtml("'"), '&#39;');
});

test("ansible's colours: green ok, red fatal, reset", () => {
  assert.equal(toHtml('\x1b[0;32mok: [localhost]\x1b[0m\r\n'), '<span class="a-f2">ok: [localhost]</span>\r\n');
  assert.equal(toHtml('\x1b[1;31mfatal\x1b[0m'), '<span class="a-f1 a-b">fatal</span>');
  assert.equal(toHtml('\x1b[0;33mchanged\x1b[0m x'), '<span class="a-f3">changed</span> x');
});

test('bright, background, 256 and true colour', () => {
  const r = parse('\x1b[92;44ma\x1b[38;5;196mb\x1b[38;2;1;2;3;48;5;3mc\x1b[39;49md');
  assert.deepEqual(r.map((x) => [x.text, x.fg, x.bg]), [
    ['a', 10, 4],
    ['b', 'rgb(255,0,0)', 4],
    ['c', 'rgb(1,2,3)', 3],
    ['d', null, null],
  ]);
  assert.equal(toHtml('\x1b[38;2;1;2;3mx'), '<span style="color:rgb(1,2,3)">x</span>');
});

test('attributes switch off independently; empty params reset', () => {
  const r = parse('\x1b[1;4ma\x1b[22mb\x1b[24mc\x1b[3md\x1b[me');
  assert.deepEqual(r.map((x) => [x.text, x.bold, x.underline, x.italic]), [
    ['a', true, true, false],
    ['b', false, true, false],
    ['c', false, false, false],
    ['d', false, false, true],
    ['e', false, false, false],
  ]);
});

test('other escapes are dropped, runs merge, text survives', () => {
  assert.equal(strip('a\x1b[2Kb\x1b]0;title\x07c\rd'), 'abcd');
  assert.equal(parse('\x1b[31ma\x1b[31mb').length, 1);
  assert.equal(toHtml('\x1b[31m<x>'), '<span class="a-f1">&lt;x&gt;</span>');
  assert.deepEqual(parse(''), []);
});
