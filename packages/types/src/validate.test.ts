import { describe, expect, it } from 'vitest';
import { RecordsInvalidError } from './errors.js';
import { assertRecord } from './validate.js';

describe('assertRecord', () => {
  it('accepts records', () => {
    expect(() => assertRecord({ type: 'x' })).not.toThrow();
    expect(() => assertRecord({ type: 'x', time: 0, extra: [1] })).not.toThrow();
  });

  it.each([
    [null, /expected an object, got null/],
    [[{ type: 'x' }], /got an array/],
    ['turn.prompt', /got string/],
    [{}, /has no `type`/],
    [{ type: 3 }, /`type` is 3, not a string/],
    [{ type: '' }, /`type` is "", an empty string/],
    [{ type: {} }, /`type` is an object, not a string/],
    [{ type: 'x', time: Number.NaN }, /"x" is invalid: its `time` is NaN/],
    [{ type: 'x', time: Number.POSITIVE_INFINITY }, /Infinity/],
    [{ type: 'x', time: '2024' }, /`time` is "2024"/],
  ])('refuses %j', (value, message) => {
    expect(() => assertRecord(value)).toThrow(RecordsInvalidError);
    expect(() => assertRecord(value)).toThrow(message);
  });
});
