import { describe, expect, it } from 'vitest';
import { RecordsInvalidError, RecordsSerializeError } from './errors.js';
import { assertRecord, serializeRecord } from './validate.js';

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
    [{ type: '' }, /`type` is "", not a string/],
    [{ type: 'x', time: Number.NaN }, /"x" is invalid: its `time` is NaN/],
    [{ type: 'x', time: Number.POSITIVE_INFINITY }, /Infinity/],
    [{ type: 'x', time: '2024' }, /`time` is "2024"/],
  ])('refuses %j', (value, message) => {
    expect(() => assertRecord(value)).toThrow(RecordsInvalidError);
    expect(() => assertRecord(value)).toThrow(message);
  });
});

describe('serializeRecord', () => {
  it('writes one line of JSON that parses back to the same record', () => {
    const record = { type: 'x', text: 'a\nb\u2028c\u2029d', n: 1 };
    const line = serializeRecord(record);
    expect(line).not.toMatch(/[\n\u2028\u2029]/);
    expect(line).toContain('\\u2028');
    expect(JSON.parse(line)).toEqual(record);
  });

  it('refuses cycles and BigInts with RecordsSerializeError naming the type', () => {
    const cyclic: Record<string, unknown> = { type: 'loop' };
    cyclic.self = cyclic;
    expect(() => serializeRecord(cyclic)).toThrow(RecordsSerializeError);
    expect(() => serializeRecord(cyclic)).toThrow(/"loop"/);
    expect(() => serializeRecord({ type: 'big', n: 1n })).toThrow(RecordsSerializeError);
  });
});
