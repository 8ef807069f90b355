import { RecordsSerializeError, recordProblem } from '@agent-records/types';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { readsAsRecord, serializeRecord } from './serialize.js';

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

  it('refuses a line a replacer made into a non-record (type dropped, time made a string)', () => {
    const dropType = (key: string, value: unknown) => (key === 'type' ? undefined : value);
    const timeAsText = (key: string, value: unknown) => (key === 'time' ? 'late' : value);
    expect(() => serializeRecord({ type: 'a', x: 1 }, dropType)).toThrow(RecordsSerializeError);
    expect(() => serializeRecord({ type: 'a', time: 1 }, timeAsText)).toThrow(
      RecordsSerializeError,
    );
    // A replacer that keeps the record a record is applied as JSON.stringify does.
    const hide = (key: string, value: unknown) => (key === 'secret' ? undefined : value);
    expect(serializeRecord({ type: 'a', secret: 1, shown: 2 }, hide)).toBe(
      '{"type":"a","shown":2}',
    );
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

describe('readsAsRecord (the check on the line itself)', () => {
  it('vouches for the lines a plain record gives, with time first, last or absent', () => {
    for (const record of [
      { type: 'x' },
      { type: 'x', time: 5 },
      { type: 'x', time: -1.5e-7, text: 'the "time":5}' },
      { type: 'x', a: { time: 'nested' }, time: 1_700_000_000_000 },
      { type: 'a"b\\', time: 0 },
      { type: 'x', a: { b: [1, 2] } },
    ]) {
      expect(readsAsRecord(JSON.stringify(record)), JSON.stringify(record)).toBe(true);
    }
  });

  it('looks closer at every line it cannot vouch for', () => {
    for (const json of [
      '{}',
      '{"type":""}',
      '{"type":5}',
      '{"time":5,"type":"x"}',
      '{"type":"x","time":"now"}',
      '{"type":"x","time":null}',
      '{"type":"x","a":{"time":5}}',
      '{"type":"x","time":5,"a":1}'.replace('"time":5,', '"a":{"time":5},"b":"time"'),
      '{"type":"x","a":"time","b":true}',
      '{"type":"x\\"}',
      '{"type":"x',
    ]) {
      expect(readsAsRecord(json), json).toBe(false);
    }
  });

  it('agrees with the full check on every line it vouches for', () => {
    const lines = [
      '{"type":"x","time":5}',
      '{"type":"x","n":1,"time":5}',
      '{"type":"x","n":"time","time":5e+21}',
    ];
    for (const json of lines) {
      expect(readsAsRecord(json)).toBe(true);
      expect(recordProblem(JSON.parse(json))).toBeNull();
    }
  });
});

describe('readsAsRecord never vouches for a line the full check refuses (property)', () => {
  it('holds for random JSON objects', () => {
    const key = fc.constantFrom('type', 'time', 'a', '"time"', 'time"', 'b\\');
    const value = fc.oneof(
      fc.jsonValue({ maxDepth: 2 }),
      fc.constantFrom('time', '"time":5}', ',"time":', '', 'x'),
      fc.double(),
    );
    fc.assert(
      fc.property(fc.array(fc.tuple(key, value), { maxLength: 6 }), (entries) => {
        const json = JSON.stringify(Object.fromEntries(entries));
        if (readsAsRecord(json)) expect(recordProblem(JSON.parse(json))).toBeNull();
      }),
      { numRuns: 5000 },
    );
  });
});
