import { RecordsSerializeError } from '@agent-records/types';
import { describe, expect, it } from 'vitest';
import { serializeRecord } from './serialize.js';

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

describe('serializeRecord refuses what would not read back as a record', () => {
  const refused: Array<[string, unknown]> = [
    ['a toJSON returning undefined', { type: 'x', toJSON: () => undefined }],
    ['a toJSON returning a number', { type: 'x', toJSON: () => 5 }],
    ['a toJSON returning an object without type', { type: 'x', toJSON: () => ({ hello: 1 }) }],
    ['a toJSON returning an array', { type: 'x', toJSON: () => [1] }],
    ['a toJSON returning a bad time', { type: 'x', toJSON: () => ({ type: 'x', time: 'now' }) }],
    [
      'a type that is a getter on the prototype',
      new (class {
        get type() {
          return 'x';
        }
      })(),
    ],
    [
      'a getter that throws',
      Object.defineProperty({ type: 'x' }, 'boom', {
        enumerable: true,
        get() {
          throw new Error('no access');
        },
      }),
    ],
    [
      'a Proxy whose ownKeys throws',
      new Proxy(
        { type: 'x' },
        {
          ownKeys() {
            throw new Error('no keys');
          },
        },
      ),
    ],
  ];

  it.each(refused)('refuses %s with RecordsSerializeError', (_name, value) => {
    expect(() => serializeRecord(value)).toThrow(RecordsSerializeError);
  });

  it('accepts a toJSON that returns a record, and writes what it returns', () => {
    const record = { type: 'x', secret: 1, toJSON: () => ({ type: 'x', shown: 2 }) };
    expect(JSON.parse(serializeRecord(record))).toEqual({ type: 'x', shown: 2 });
  });

  it('accepts a time stamped through an accessor that returns a number', () => {
    const record = Object.defineProperty({ type: 'x' }, 'time', {
      enumerable: true,
      get: () => 5,
    });
    expect(JSON.parse(serializeRecord(record))).toEqual({ type: 'x', time: 5 });
  });
});
