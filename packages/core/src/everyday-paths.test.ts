import { InMemoryAgentRecordPersistence } from '@agent-records/memory-persistence';
import {
  type AgentRecordEnvelope,
  type AgentRecordPersistence,
  type RecordsErrorInfo,
  RecordsOverflowError,
  RecordsReplayError,
} from '@agent-records/types';
import { describe, expect, it } from 'vitest';
import { AgentRecords, type AgentRecordsOptions } from './agent-records.js';

type Rec = AgentRecordEnvelope & Record<string, unknown>;

let clock = 1_000;
const now = () => ++clock;

function reports() {
  const seen: Array<{ error: Error; info: RecordsErrorInfo }> = [];
  const onError = (error: Error, info: RecordsErrorInfo) => seen.push({ error, info });
  const kinds = () => seen.map((r) => r.info.kind);
  return { seen, onError, kinds };
}

function make(options: Partial<AgentRecordsOptions<Rec>> = {}) {
  return new AgentRecords<Rec>({ protocolVersion: '1.0', now, onError: () => {}, ...options });
}

const types = (persistence: InMemoryAgentRecordPersistence<Rec>) =>
  persistence.records.map((r) => r.type);

describe('logRecord never throws for any value', () => {
  const hostile: Array<[string, () => unknown]> = [
    [
      'a record with a getter that throws',
      () =>
        Object.defineProperty({ type: 'x' }, 'boom', {
          enumerable: true,
          get() {
            throw new Error('no access');
          },
        }),
    ],
    [
      'a Proxy whose ownKeys throws',
      () =>
        new Proxy(
          { type: 'x' },
          {
            ownKeys() {
              throw new Error('no keys');
            },
          },
        ),
    ],
    [
      'a record whose toJSON returns undefined',
      () => ({ type: 'x', time: 1, toJSON: () => undefined }),
    ],
    ['a record whose toJSON returns 5', () => ({ type: 'x', time: 1, toJSON: () => 5 })],
    [
      'a record whose toJSON returns an object without type',
      () => ({ type: 'x', time: 1, toJSON: () => ({ hello: 1 }) }),
    ],
    [
      'a Proxy whose type getter throws',
      () =>
        new Proxy(
          {},
          {
            get() {
              throw new Error('trap');
            },
          },
        ),
    ],
  ];

  it.each(hostile)(
    '%s is refused on its own: no throw, no episode, later records written, flush and close resolve',
    async (_name, value) => {
      const persistence = new InMemoryAgentRecordPersistence<Rec>();
      const { seen, kinds } = reports();
      const records = make({ persistence, onError: (e, i) => seen.push({ error: e, info: i }) });
      records.logRecord({ type: 'before' });
      expect(() => records.logRecord(value() as Rec)).not.toThrow();
      records.logRecord({ type: 'after' });
      await expect(records.flush()).resolves.toBeUndefined();
      await expect(records.close()).resolves.toBeUndefined();
      expect(types(persistence)).toEqual(['metadata', 'before', 'after']);
      expect(kinds()).toEqual(['record-refused']);
      expect(seen[0]?.error.name).toMatch(/RecordsSerializeError|RecordsInvalidError/);
    },
  );

  it('a clock that throws refuses the record, and the next record still opens the log with metadata', async () => {
    const persistence = new InMemoryAgentRecordPersistence<Rec>();
    let broken = true;
    const records = make({
      persistence,
      now: () => {
        if (broken) throw new Error('clock');
        return 5;
      },
    });
    expect(() => records.logRecord({ type: 'a' })).not.toThrow();
    broken = false;
    records.logRecord({ type: 'b' });
    await records.close();
    expect(types(persistence)).toEqual(['metadata', 'b']);
  });
});

describe('maxPendingBytes through the core', () => {
  it('one dropped burst of 81 records rejects the next flush once; later flushes and close resolve', async () => {
    const persistence = new InMemoryAgentRecordPersistence<Rec>([], {
      maxPendingBytes: 300,
      onError: () => {},
    });
    persistence.injectFault({ op: 'append', times: Number.POSITIVE_INFINITY });
    const { seen, kinds } = reports();
    const records = make({ persistence, onError: (e, i) => seen.push({ error: e, info: i }) });
    records.logRecord({ type: 'kept', text: 'a'.repeat(100) });
    for (let i = 0; i < 81; i++) records.logRecord({ type: 'dropped', text: 'b'.repeat(200) });
    expect(kinds()).toEqual(['record-refused']); // one report for the burst, not 81
    expect(seen[0]?.error).toBeInstanceOf(RecordsOverflowError);
    persistence.clearFaults();
    await expect(records.flush()).rejects.toMatchObject({ code: 'RECORDS_OVERFLOW', dropped: 81 });
    for (let i = 0; i < 81; i++) await expect(records.flush()).resolves.toBeUndefined();
    await expect(records.close()).resolves.toBeUndefined();
    expect(types(persistence)).toEqual(['metadata', 'kept']);
    expect(kinds()).not.toContain('write-failed');
  });

  it('a persistence that throws RecordsOverflowError but never reports it: the core reports the burst once', async () => {
    const written: Rec[] = [];
    let full = true;
    let closed = 0;
    const persistence: AgentRecordPersistence<Rec> = {
      async *read() {},
      append(record) {
        if (full && record.type === 'big') throw new RecordsOverflowError(200, 100);
        written.push(record);
      },
      rewrite() {},
      async flush() {},
      async close() {
        closed++;
      },
    };
    const records = make({ persistence });
    for (let i = 0; i < 5; i++) records.logRecord({ type: 'big' });
    full = false;
    records.logRecord({ type: 'small' });
    // close() is the first flush: it reports the burst once and still closes the persistence.
    await expect(records.close()).rejects.toMatchObject({ code: 'RECORDS_OVERFLOW', dropped: 5 });
    expect(closed).toBe(1);
    await expect(records.close()).resolves.toBeUndefined();
    expect(written.map((r) => r.type)).toEqual(['metadata', 'small']);
  });
});

describe('replay names the record that broke', () => {
  const log: Rec[] = [
    { type: 'metadata', protocol_version: '1.0', created_at: 1 },
    { type: 'a', time: 2 },
    { type: 'b', time: 3 },
  ];

  it('wraps what the host restore throws with the record position and type', async () => {
    const cause = new TypeError('state.items is undefined');
    const records = make({
      persistence: new InMemoryAgentRecordPersistence<Rec>(log),
      restore: (record) => {
        if (record.type === 'b') throw cause;
      },
    });
    const replay = records.replay();
    await expect(replay).rejects.toBeInstanceOf(RecordsReplayError);
    await expect(replay).rejects.toMatchObject({
      code: 'RECORDS_REPLAY',
      position: 3,
      recordType: 'b',
      stage: 'restore',
      cause,
    });
    await expect(replay).rejects.toThrow(/record #3 of type "b"/);
  });

  it("wraps what a migration's migrateRecord throws, naming the migration", async () => {
    const cause = new Error('no field x');
    const records = make({
      protocolVersion: '1.1',
      persistence: new InMemoryAgentRecordPersistence<Rec>(log),
      migrations: [
        {
          sourceVersion: '1.0',
          targetVersion: '1.1',
          migrateRecord: (record) => {
            if (record.type === 'a') throw cause;
            return record;
          },
        },
      ],
    });
    const replay = records.replay();
    await expect(replay).rejects.toMatchObject({ position: 2, stage: 'migrate', cause });
    await expect(replay).rejects.toThrow(/migration 1\.0 -> 1\.1 threw \(no field x\)/);
  });
});

describe('a record with toJSON is stored as its toJSON presents it, with time stamped', () => {
  class Prompt {
    type = 'turn.prompt';
    content: string;
    apiKey = 'sk-SECRET';
    time?: number;
    constructor(content: string, time?: number) {
      this.content = content;
      if (time !== undefined) this.time = time;
    }
    toJSON() {
      return { type: this.type, content: this.content, ...(this.time && { time: this.time }) };
    }
  }

  async function stored(value: unknown, time = 7_777) {
    const persistence = new InMemoryAgentRecordPersistence<Rec>();
    const { seen, onError } = reports();
    const records = make({ persistence, onError, now: () => time });
    records.logRecord(value as Rec);
    await records.close();
    return { record: persistence.records[1], types: types(persistence), seen };
  }
  const presentedPlusTime = (presented: unknown, time: number) => ({
    ...JSON.parse(JSON.stringify(presented)),
    time,
  });

  it('a class whose prototype toJSON leaves a secret out: the secret is not stored when the core stamps time', async () => {
    const prompt = new Prompt('hello');
    const { record, seen } = await stored(prompt);
    expect(seen).toEqual([]);
    expect(record).toEqual(presentedPlusTime(prompt.toJSON(), 7_777));
    expect(JSON.stringify(record)).not.toContain('sk-SECRET');
  });

  it('the same class with time set by the caller is stored as toJSON presents it', async () => {
    const prompt = new Prompt('hello', 99);
    const { record } = await stored(prompt);
    expect(record).toEqual(JSON.parse(JSON.stringify(prompt)));
  });

  it('an object literal with its own toJSON keeps the stamped time', async () => {
    const literal = { type: 'literal', a: 1, hidden: 2, toJSON: () => ({ type: 'literal', a: 1 }) };
    const { record } = await stored(literal);
    expect(record).toEqual({ type: 'literal', a: 1, time: 7_777 });
  });

  it('a toJSON that presents its own time keeps it', async () => {
    const literal = { type: 'x', toJSON: () => ({ type: 'x', time: 5 }) };
    expect((await stored(literal)).record).toEqual({ type: 'x', time: 5 });
  });

  it.each([
    [
      'throws',
      () => ({
        type: 'x',
        toJSON: () => {
          throw new Error('nope');
        },
      }),
    ],
    ['returns undefined', () => ({ type: 'x', toJSON: () => undefined })],
    ['returns a number', () => ({ type: 'x', toJSON: () => 5 })],
    ['returns an object without type', () => ({ type: 'x', toJSON: () => ({ a: 1 }) })],
    [
      'returns a non-finite time as a string',
      () => ({ type: 'x', toJSON: () => ({ type: 'x', time: 'noon' }) }),
    ],
  ])(
    'a toJSON that %s, with no time set, is refused (RecordsSerializeError), alone',
    async (_name, value) => {
      const { types: written, seen } = await stored(value());
      expect(seen.map((s) => [s.error.name, s.info])).toEqual([
        ['RecordsSerializeError', { kind: 'record-refused', recordType: 'x' }],
      ]);
      expect(written).toEqual([]);
    },
  );
});
