import test from 'node:test';
import assert from 'node:assert/strict';
import { errorText, qs, ApiError } from './api.js';

test("AWX's error shapes become one message", () => {
  assert.equal(errorText({ detail: 'Not found.' }), 'Not found.');
  assert.equal(errorText({ __all__: ['a', 'b'] }), 'a b');
  assert.equal(errorText({ error: 'Unknown period "x"' }), 'Unknown period "x"');
  assert.equal(errorText({ name: ['This field is required.'] }), '', 'a field error belongs beside its field');
  assert.equal(new ApiError(409, { error: 'in use', active_jobs: [] }).message, 'in use');
  assert.equal(new ApiError(500, null).message, 'HTTP 500');
});

test('query strings leave out empty values', () => {
  assert.equal(qs({ search: '', page: 2, order_by: '-id', x: null }), '?page=2&order_by=-id');
  assert.equal(qs({}), '');
  assert.equal(qs({ name__icontains: 'a b&c' }), '?name__icontains=a+b%26c');
});
