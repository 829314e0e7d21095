import test from 'node:test';
import assert from 'node:assert/strict';
import { Heights, lineCount, pagesFor, pageQuery, tallyHosts, countHosts } from './output.js';

test('heights: estimates, then known heights, prefix sums and lookups', () => {
  const h = new Heights(1);
  h.grow(100000);
  assert.equal(h.total, 100000);
  assert.equal(h.offset(500), 500);
  assert.equal(h.rowAt(499.5), 499);
  assert.equal(h.set(10, 3), 2);
  assert.equal(h.set(11, 0), -1);
  assert.equal(h.total, 100001);
  assert.equal(h.offset(10), 10);
  assert.equal(h.offset(11), 13);
  assert.equal(h.offset(12), 13);
  assert.equal(h.rowAt(12.5), 10);
  assert.equal(h.rowAt(13), 12, 'a row of no height is skipped');
  assert.equal(h.rowAt(1e9), 99999, 'past the end is the last row');
  assert.ok(h.isKnown(10) && !h.isKnown(12));
});

test('heights: growing keeps what was set', () => {
  const h = new Heights(1);
  h.grow(3);
  h.set(1, 5);
  h.grow(5000);
  assert.equal(h.offset(2), 6);
  assert.equal(h.total, 5004);
  h.set(6000, 2);
  assert.equal(h.n, 6001);
  assert.equal(h.total, 6001 - 2 + 5 + 2);
});

test('lineCount: trailing newline, CRLF, empty', () => {
  assert.equal(lineCount(''), 0);
  assert.equal(lineCount(null), 0);
  assert.equal(lineCount('ok: [h]'), 1);
  assert.equal(lineCount('\r\nTASK [x] ***\r\n'), 2);
  assert.equal(lineCount('a\nb\nc'), 3);
});

test('pages: cover the rows, middle first', () => {
  assert.deepEqual(pagesFor(0, 10, 200), [0]);
  assert.deepEqual(pagesFor(150, 650, 200), [2, 1, 3, 0]);
  assert.equal(pageQuery(2, 200), 'order_by=counter&counter__gt=400&counter__lte=600&page_size=200');
});

test('host tally: recap precedence', () => {
  const m = new Map();
  tallyHosts(m, { event: 'runner_on_ok', host_name: 'a', changed: false });
  tallyHosts(m, { event: 'runner_on_ok', host_name: 'a', changed: true });
  tallyHosts(m, { event: 'runner_on_ok', host_name: 'a', changed: false });
  tallyHosts(m, { event: 'runner_on_failed', host_name: 'b', event_data: {} });
  tallyHosts(m, { event: 'runner_on_ok', host_name: 'b' });
  tallyHosts(m, { event: 'runner_on_skipped', host_name: 'c' });
  tallyHosts(m, { event: 'playbook_on_stats' });
  assert.deepEqual(countHosts(m), { ok: 0, changed: 1, failures: 1, dark: 0, skipped: 1 });
});
