import test from 'node:test';
import assert from 'node:assert/strict';
import { Heights, lineCount, pageQuery, tallyHosts, countHosts, Outline, hiddenEnd, pagesOfRows } from './output.js';

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

test('pages: the query of a page', () => {
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

// A job: play 1 at counter 2 with tasks at 3 and 10, play 2 at 20 with a task at 21, recap at 30.
const heads = () => [
  { counter: 21, event: 'playbook_on_task_start' },
  { counter: 2, event: 'playbook_on_play_start', play: 'web', task: '' },
  { counter: 3, event: 'playbook_on_task_start' },
  { counter: 10, event: 'playbook_on_task_start' },
  { counter: 20, event: 'playbook_on_play_start' },
  { counter: 30, event: 'playbook_on_stats' },
  { counter: 5, event: 'runner_on_ok' },
];

test('outline: a play spans to the next play, a task to the next task', () => {
  const o = new Outline();
  assert.ok(o.add(heads()));
  assert.ok(!o.add([{ counter: 3, event: 'playbook_on_task_start' }]), 'duplicates are ignored');
  assert.deepEqual(o.heads.map((h) => h.counter), [2, 3, 10, 20, 21, 30]);
  assert.deepEqual(o.span(2, 40), [3, 19]);
  assert.deepEqual(o.span(3, 40), [4, 9]);
  assert.deepEqual(o.span(10, 40), [11, 19]);
  assert.deepEqual(o.span(21, 40), [22, 29], 'the last task ends before the recap');
  assert.equal(o.foldable(30), undefined, 'the recap does not fold');
  assert.equal(o.foldable(5), undefined);
  assert.equal(o.foldable(20), 'play');
  assert.equal(o.heads[0].name, 'web', 'a head keeps its play or task name, for the outline list');
});

test('outline: collapsed heads hide merged ranges; nested state survives', () => {
  const o = new Outline();
  o.add(heads());
  assert.deepEqual(o.hidden(40), []);
  o.toggle(3);
  o.toggle(21);
  assert.deepEqual(o.hidden(40), [[4, 9], [22, 29]]);
  o.toggle(2);
  assert.deepEqual(o.hidden(40), [[3, 19], [22, 29]], 'a play hides its tasks, heads included');
  o.toggle(2);
  assert.deepEqual(o.hidden(40), [[4, 9], [22, 29]], 'expanding the play keeps its task collapsed');
  o.toggle(10);
  assert.deepEqual(o.hidden(40), [[4, 9], [11, 19], [22, 29]]);
  assert.ok(!o.toggle(30));
  const r = o.hidden(40);
  assert.equal(hiddenEnd(r, 4), 9);
  assert.equal(hiddenEnd(r, 10), 0);
  assert.equal(hiddenEnd(r, 19), 19);
  assert.equal(hiddenEnd(r, 25), 29);
  assert.equal(hiddenEnd(r, 30), 0);
});

test('outline: a running job\'s last task is open-ended, then closes when the next head arrives', () => {
  const o = new Outline();
  o.add([{ counter: 1, event: 'playbook_on_play_start' }, { counter: 2, event: 'playbook_on_task_start' }]);
  o.toggle(2);
  assert.deepEqual(o.hidden(50), [[3, 50]]);
  assert.deepEqual(o.hidden(2), [], 'nothing below it yet');
  const v = o.version;
  o.add([{ counter: 60, event: 'playbook_on_task_start' }]);
  assert.ok(o.version > v);
  assert.deepEqual(o.hidden(100), [[3, 59]]);
});

test('heights: masked rows take no lines, keep their own height, and are skipped', () => {
  const h = new Heights(1);
  h.grow(100000);
  h.set(4, 3);
  h.mask([[3, 50000]]); // rows 2…49999
  assert.equal(h.total, 100000 - 49998);
  assert.equal(h.offset(2), 2);
  assert.equal(h.offset(50000), 2);
  assert.equal(h.rowAt(2), 50000, 'the row after the hidden range follows row 1');
  assert.equal(h.set(10, 5), 0, 'a hidden row loading changes nothing on screen');
  assert.ok(h.isHidden(10) && !h.isHidden(50000));
  h.mask([]);
  assert.equal(h.total, 100000 + 2 + 4, 'shown again with their known heights');
  assert.equal(h.offset(11), 9 + 3 + 5);
  h.mask([[1, 1]]);
  h.grow(300000);
  assert.equal(h.offset(2), 1, 'growing keeps the mask');
  assert.equal(h.total, 300000 - 1 + 2 + 4);
});

test('pages of rows: the middle first', () => {
  assert.deepEqual(pagesOfRows([], 200), []);
  assert.deepEqual(pagesOfRows([10, 50000, 50001, 50100, 50500], 200), [250, 252, 0]);
});
