import { InMemoryAgentRecordPersistence } from '@agent-records/memory-persistence';
import {
  type AgentRecordEnvelope,
  type AgentRecordPersistence,
  type LegacyAgentRecordPersistence,
  RecordsClosedError,
  type RecordsErrorInfo,
  RecordsInvalidError,
  RecordsSerializeError,
  RecordsVersionError,
  RecordsWriteError,
} from '@agent-records/types';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AgentRecords, type AgentRecordsOptions } from './agent-records.js';
import type { Migration } from './migrations.js';

type Rec = AgentRecordEnvelope & Record<string, unknown>;

let clock = 1_000;
const now = () => ++clock;

function reports() {
  const seen: Array<{ error: Error; info: RecordsErrorInfo }> = [];
  const onError = (error: Error, info: RecordsErrorInfo) => seen.push({ error, info });
  const kinds = () => seen.map((r) => r.info.kind);
  return { seen, onError, kinds };
}

function make(options: Partial<AgentRecordsOptions<Rec>> & { persistence?: unknown } = {}) {
  return new AgentRecords<Rec>({
    protocolVersion: '1.0',
    now,
    onError: () => {},
    ...options,
  } as AgentRecordsOptions<Rec>);
}

function meta(version: string, createdAt = 1): Rec {
  return { type: 'metadata', protocol_version: version, created_at: createdAt };
}

/** A current-contract persistence whose append throws while `failing` is set. */
class ThrowingPersistence implements AgentRecordPersistence<Rec> {
  readonly inner = new InMemoryAgentRecordPersistence<Rec>();
  failing: Error | null = null;
  appendCalls = 0;
  append(record: Rec): void {
    this.appendCalls++;
    if (this.failing) throw this.failing;
    this.inner.append(record);
  }
  rewrite(records: readonly Rec[]): void {
    this.inner.rewrite(records);
  }
  read() {
    return this.inner.read();
  }
  flush() {
    return this.inner.flush();
  }
  close() {
    return this.inner.close();
  }
}

/** A persistence of the previous contract: async append, no rewrite. */
class LegacyPersistence implements LegacyAgentRecordPersistence<Rec> {
  records: Rec[] = [];
  failing: Error | null = null;
  flushes = 0;
  closes = 0;
  constructor(initial: Rec[] = []) {
    this.records = [...initial];
  }
  async append(record: Rec): Promise<void> {
    await new Promise((resolve) => setImmediate(resolve));
    if (this.failing) throw this.failing;
    this.records.push(record);
  }
  async read() {
    return [...this.records];
  }
  async flush() {
    this.flushes++;
  }
  async close() {
    this.closes++;
  }
}

let unhandled: unknown[] = [];
const onUnhandled = (reason: unknown) => unhandled.push(reason);
beforeEach(() => {
  unhandled = [];
  process.on('unhandledRejection', onUnhandled);
});
afterEach(async () => {
  await new Promise((resolve) => setTimeout(resolve, 5));
  process.off('unhandledRejection', onUnhandled);
  expect(unhandled).toEqual([]);
});

describe('failure isolation', () => {
  it('a throwing append: logRecord returns, one report per episode, flush rejects then recovers', async () => {
    const persistence = new ThrowingPersistence();
    const { seen, onError, kinds } = reports();
    const records = make({ persistence, onError });
    const original = Object.assign(new Error('EIO: i/o error'), { code: 'EIO' });
    persistence.failing = original;

    let after = 0;
    for (let i = 0; i < 10_000; i++) {
      records.logRecord({ type: 'turn.prompt', n: i });
      after++;
    }
    expect(after).toBe(10_000);
    expect(kinds()).toEqual(['write-failed']);
    expect(seen[0]?.error).toBeInstanceOf(RecordsWriteError);
    expect(seen[0]?.error.cause).toBe(original);
    // Only the first record reached the failing append; the rest queued behind it.
    expect(persistence.appendCalls).toBe(1);

    const failure = await records.flush().catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(RecordsWriteError);
    expect((failure as RecordsWriteError).cause).toBe(original);
    await expect(records.flush()).rejects.toBeInstanceOf(RecordsWriteError);
    expect(kinds()).toEqual(['write-failed']);

    persistence.failing = null;
    await records.flush();
    expect(kinds()).toEqual(['write-failed', 'write-recovered']);
    const log = persistence.inner.records;
    expect(log).toHaveLength(10_001);
    expect(log[0]).toMatchObject({ type: 'metadata', protocol_version: '1.0' });
    expect(log.slice(1).map((r) => r.n)).toEqual(Array.from({ length: 10_000 }, (_, i) => i));
  });

  it('a legacy async append that rejects: one report, flush rejects with the cause, then recovers', async () => {
    const legacy = new LegacyPersistence();
    const { seen, onError, kinds } = reports();
    const records = make({ persistence: legacy, onError });
    const original = new Error('disk full');
    legacy.failing = original;
    for (let i = 0; i < 10_000; i++) records.logRecord({ type: 'x', n: i });

    const failure = await records.flush().catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(RecordsWriteError);
    expect((failure as RecordsWriteError).cause).toBe(original);
    expect(kinds()).toEqual(['write-failed']);
    expect(seen[0]?.error).toBe(original);

    legacy.failing = null;
    await records.flush();
    expect(kinds()).toEqual(['write-failed', 'write-recovered']);
    expect(legacy.records).toHaveLength(10_001);
    expect(legacy.records.slice(1).map((r) => r.n)).toEqual(
      Array.from({ length: 10_000 }, (_, i) => i),
    );
    expect(legacy.flushes).toBe(1);
  });

  it('a persistence with rewrite whose append returns a rejecting promise: no unhandled rejection, flush reports it', async () => {
    const inner = new InMemoryAgentRecordPersistence<Rec>();
    const hybrid = {
      append: async (_record: Rec) => {
        throw new Error('async boom');
      },
      rewrite: (r: readonly Rec[]) => inner.rewrite(r),
      read: () => inner.read(),
      flush: () => inner.flush(),
      close: () => inner.close(),
    };
    const { kinds, onError } = reports();
    const records = make({ persistence: hybrid, onError });
    records.logRecord({ type: 'x' });
    records.logRecord({ type: 'y' });
    // The rejections are observed asynchronously: wait for the report, with a deadline.
    for (const deadline = Date.now() + 10_000; kinds().length === 0 && Date.now() < deadline; ) {
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    expect(kinds()).toEqual(['write-failed']);
    const failure = await records.flush().catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(RecordsWriteError);
    expect(((failure as Error).cause as Error).message).toBe('async boom');
  });

  it('wraps a non-agent-records flush failure in RecordsWriteError', async () => {
    const inner = new InMemoryAgentRecordPersistence<Rec>();
    const original = new Error('fsync failed');
    const persistence = {
      append: (r: Rec) => inner.append(r),
      rewrite: (r: readonly Rec[]) => inner.rewrite(r),
      read: () => inner.read(),
      flush: async () => {
        throw original;
      },
      close: () => inner.close(),
    };
    const records = make({ persistence });
    records.logRecord({ type: 'x' });
    const failure = await records.flush().catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(RecordsWriteError);
    expect((failure as Error).cause).toBe(original);
  });

  it('passes a backend episode through flush and close with its cause', async () => {
    const persistence = new InMemoryAgentRecordPersistence<Rec>([], { onError: () => {} });
    const original = new Error('ENOSPC');
    persistence.injectFault({ op: 'append', error: original, times: 3 });
    const records = make({ persistence });
    records.logRecord({ type: 'x' });
    await expect(records.flush()).rejects.toMatchObject({ cause: original });
    await expect(records.close()).rejects.toMatchObject({ cause: original });
    await records.close();
    expect(persistence.records.map((r) => r.type)).toEqual(['metadata', 'x']);
  });

  it('survives an onError handler that throws', async () => {
    const persistence = new ThrowingPersistence();
    persistence.failing = new Error('EIO');
    const records = make({
      persistence,
      onError: () => {
        throw new Error('handler bug');
      },
    });
    expect(() => records.logRecord({ type: 'x' })).not.toThrow();
    expect(() => records.logRecord({ type: 'y' })).not.toThrow();
  });

  it('defaults onError to console.error, once per episode', async () => {
    const persistence = new ThrowingPersistence();
    persistence.failing = new Error('EIO');
    const records = new AgentRecords<Rec>({ protocolVersion: '1.0', persistence });
    const original = console.error;
    const printed: unknown[][] = [];
    console.error = (...args: unknown[]) => printed.push(args);
    try {
      for (let i = 0; i < 100; i++) records.logRecord({ type: 'x' });
    } finally {
      console.error = original;
    }
    expect(printed).toHaveLength(1);
    expect(String(printed[0]?.[0])).toContain('write-failed');
  });
});

describe('bad input', () => {
  it.each([
    [null, undefined],
    ['turn.prompt', undefined],
    [{}, undefined],
    [{ type: 42 }, undefined],
    [{ type: 'turn.prompt', time: Number.NaN }, 'turn.prompt'],
    [{ type: 'turn.prompt', time: '12:00' }, 'turn.prompt'],
  ])('refuses %j through onError and keeps going', async (bad, recordType) => {
    const persistence = new InMemoryAgentRecordPersistence<Rec>();
    const { seen, onError } = reports();
    const records = make({ persistence, onError });
    records.logRecord({ type: 'before' });
    expect(() => records.logRecord(bad as Rec)).not.toThrow();
    records.logRecord({ type: 'after' });
    await records.flush();
    expect(seen).toHaveLength(1);
    expect(seen[0]?.error).toBeInstanceOf(RecordsInvalidError);
    expect(seen[0]?.info).toEqual({ kind: 'record-refused', recordType });
    expect(seen[0]?.error.message).toContain(recordType ? `"${recordType}"` : 'without a type');
    expect(persistence.records.map((r) => r.type)).toEqual(['metadata', 'before', 'after']);
  });

  it('reports an unserialisable record as refused; the log stays intact and flush resolves', async () => {
    const persistence = new InMemoryAgentRecordPersistence<Rec>();
    const { seen, onError } = reports();
    const records = make({ persistence, onError });
    const cyclic: Rec = { type: 'cyclic' };
    cyclic.self = cyclic;
    records.logRecord({ type: 'a' });
    records.logRecord(cyclic);
    records.logRecord({ type: 'big', n: 1n });
    records.logRecord({ type: 'b' });
    await records.flush();
    expect(seen.map((r) => r.error)).toEqual([
      expect.any(RecordsSerializeError),
      expect.any(RecordsSerializeError),
    ]);
    expect(seen.map((r) => r.info)).toEqual([
      { kind: 'record-refused', recordType: 'cyclic' },
      { kind: 'record-refused', recordType: 'big' },
    ]);
    expect(persistence.records.map((r) => r.type)).toEqual(['metadata', 'a', 'b']);
  });

  it('a record mutated after logging is logged as it was', async () => {
    const persistence = new InMemoryAgentRecordPersistence<Rec>();
    const records = make({ persistence });
    const record = { type: 'context.append_message', message: { content: 'first' } };
    records.logRecord(record);
    record.message.content = 'changed';
    await records.flush();
    expect(persistence.records[1]).toMatchObject({ message: { content: 'first' } });
  });

  it('does not mutate the caller record when stamping time', async () => {
    const persistence = new InMemoryAgentRecordPersistence<Rec>();
    const records = make({ persistence });
    const record: Rec = { type: 'x' };
    records.logRecord(record);
    expect(record.time).toBeUndefined();
    await records.flush();
    expect(typeof persistence.records[1]?.time).toBe('number');
  });

  it('logRecord after close is reported, not thrown', async () => {
    const persistence = new InMemoryAgentRecordPersistence<Rec>();
    const { seen, onError } = reports();
    const records = make({ persistence, onError });
    await records.close();
    await records.close();
    expect(() => records.logRecord({ type: 'late' })).not.toThrow();
    expect(seen[0]?.error).toBeInstanceOf(RecordsClosedError);
  });
});

describe('metadata and segments', () => {
  it('opens a fresh log with exactly one metadata record and stamps time', async () => {
    clock = 5_000;
    const persistence = new InMemoryAgentRecordPersistence<Rec>();
    const records = make({ persistence, protocolVersion: '2.3' });
    records.logRecord({ type: 'turn.prompt' });
    records.logRecord({ type: 'turn.steer', time: 42 });
    await records.flush();
    expect(persistence.records).toEqual([
      { type: 'metadata', protocol_version: '2.3', created_at: 5_001 },
      { type: 'turn.prompt', time: 5_002 },
      { type: 'turn.steer', time: 42 },
    ]);
  });

  it('adds no metadata after replaying a log at the current version', async () => {
    const persistence = new InMemoryAgentRecordPersistence<Rec>([meta('1.0'), { type: 'a' }]);
    const records = make({ persistence });
    await records.replay();
    records.logRecord({ type: 'b' });
    await records.flush();
    expect(persistence.records.map((r) => r.type)).toEqual(['metadata', 'a', 'b']);
  });

  it('adds none when the host logs its own metadata first', async () => {
    const persistence = new InMemoryAgentRecordPersistence<Rec>();
    const records = make({ persistence });
    records.logRecord({ type: 'metadata', protocol_version: '1.0', created_at: 7 });
    records.logRecord({ type: 'a' });
    await records.flush();
    expect(persistence.records.map((r) => r.type)).toEqual(['metadata', 'a']);
  });

  it('appending to an older log without replay starts a segment; replay migrates only the old one', async () => {
    const persistence = new InMemoryAgentRecordPersistence<Rec>([
      meta('1.0'),
      { type: 'old', v: 0 },
    ]);
    const migrated: unknown[] = [];
    const migrations: Migration<Rec>[] = [
      {
        sourceVersion: '1.0',
        targetVersion: '1.1',
        migrateRecord: (r) => {
          migrated.push(r);
          return { ...r, v: 1 };
        },
      },
    ];
    const writer = make({ persistence, protocolVersion: '1.1', migrations });
    writer.logRecord({ type: 'new', v: 1 });
    await writer.flush();
    expect(persistence.records.map((r) => r.type)).toEqual(['metadata', 'old', 'metadata', 'new']);
    expect(persistence.records[2]).toMatchObject({ protocol_version: '1.1' });

    const restored: Rec[] = [];
    const reader = make({
      persistence,
      protocolVersion: '1.1',
      migrations,
      restore: (r) => restored.push(r),
    });
    const result = await reader.replay();
    expect(migrated).toEqual([{ type: 'old', v: 0 }]);
    expect(result).toEqual({ records: 4, fromVersion: '1.0', migrated: true });
    expect(restored.filter((r) => r.type !== 'metadata')).toEqual([
      { type: 'old', v: 1 },
      { type: 'new', v: 1, time: expect.any(Number) },
    ]);
    // Rewritten as one segment at the current version.
    expect(persistence.records.map((r) => r.type)).toEqual(['metadata', 'old', 'new']);
    expect(persistence.records[0]).toMatchObject({ protocol_version: '1.1', created_at: 1 });
  });

  it('after an in-memory migration (no rewrite) the next record starts a segment, and the old one is never migrated twice', async () => {
    const legacy = new LegacyPersistence([meta('1.0'), { type: 'old', v: 0 }]);
    let calls = 0;
    const migrations: Migration<Rec>[] = [
      {
        sourceVersion: '1.0',
        targetVersion: '1.1',
        migrateRecord: (r) => {
          calls++;
          return { ...r, v: (r.v as number) + 1 };
        },
      },
    ];
    const first = make({ persistence: legacy, protocolVersion: '1.1', migrations });
    const result = await first.replay();
    expect(result.migrated).toBe(true);
    expect(result.warning).toMatch(/migrated in memory only/);
    first.logRecord({ type: 'new', v: 1 });
    await first.flush();
    expect(legacy.records.map((r) => r.type)).toEqual(['metadata', 'old', 'metadata', 'new']);

    calls = 0;
    const restored: Rec[] = [];
    const second = make({
      persistence: legacy,
      protocolVersion: '1.1',
      migrations,
      restore: (r) => restored.push(r),
    });
    await second.replay();
    expect(calls).toBe(1);
    expect(restored.filter((r) => r.type !== 'metadata').map((r) => r.v)).toEqual([1, 1]);
  });

  it('after an in-memory migration whose log already ends in a segment at the current version, no redundant metadata record is written', async () => {
    const legacy = new LegacyPersistence([
      meta('1.0'),
      { type: 'old', v: 0 },
      meta('1.1', 2),
      { type: 'new', v: 1 },
    ]);
    const migrations: Migration<Rec>[] = [
      { sourceVersion: '1.0', targetVersion: '1.1', migrateRecord: (r) => ({ ...r, v: 1 }) },
    ];
    const resumed = make({ persistence: legacy, protocolVersion: '1.1', migrations });
    const result = await resumed.replay();
    expect(result.migrated).toBe(true);
    resumed.logRecord({ type: 'newer', v: 1 });
    await resumed.close();
    expect(legacy.records.map((r) => r.type)).toEqual([
      'metadata',
      'old',
      'metadata',
      'new',
      'newer',
    ]);
  });
});

describe('a metadata record the host logs', () => {
  it.each([
    [
      'a protocol_version that is not MAJOR.MINOR',
      { protocol_version: 'v2', created_at: 1 },
      /"v2"/,
    ],
    ['no protocol_version', { created_at: 1 }, /undefined/],
    [
      'an older version no migration starts from',
      { protocol_version: '0.5', created_at: 1 },
      /No migration from protocol version 0\.5/,
    ],
  ])(
    'with %s is refused (RecordsInvalidError through onError), and the session stays resumable',
    async (_name, fields, named) => {
      const persistence = new InMemoryAgentRecordPersistence<Rec>();
      const { seen, onError } = reports();
      const records = make({ persistence, onError });
      records.logRecord({ type: 'a' });
      expect(() => records.logRecord({ type: 'metadata', ...fields } as Rec)).not.toThrow();
      records.logRecord({ type: 'b' });
      await expect(records.close()).resolves.toBeUndefined();
      expect(seen.map((s) => [s.error.name, s.info])).toEqual([
        ['RecordsInvalidError', { kind: 'record-refused', recordType: 'metadata' }],
      ]);
      expect(seen[0]?.error.message).toMatch(named);
      expect(seen[0]?.error.message).toMatch(/replay/);
      expect(persistence.records.map((r) => r.type)).toEqual(['metadata', 'a', 'b']);
      const restored: string[] = [];
      const result = await make({ persistence, restore: (r) => restored.push(r.type) }).replay();
      expect(result.records).toBe(3);
    },
  );

  it('at an older version a migration starts from, or a newer one, is stored; the next record starts a segment at the current version', async () => {
    const migrations: Migration<Rec>[] = [
      {
        sourceVersion: '0.5',
        targetVersion: '1.0',
        migrateRecord: (r) => ({ ...r, migrated: true }),
      },
    ];
    const persistence = new InMemoryAgentRecordPersistence<Rec>();
    const { seen, onError } = reports();
    const records = make({ persistence, onError, migrations });
    records.logRecord({ type: 'metadata', protocol_version: '0.5', created_at: 1 });
    records.logRecord({ type: 'old' }); // not stamped at 0.5 by the host: the core's own version
    records.logRecord({ type: 'metadata', protocol_version: '2.0', created_at: 2 });
    records.logRecord({ type: 'new' });
    await records.close();
    expect(seen).toEqual([]);
    expect(
      persistence.records.map((r) => (r.type === 'metadata' ? r.protocol_version : r.type)),
    ).toEqual(['0.5', '1.0', 'old', '2.0', '1.0', 'new']);
    const restored: Rec[] = [];
    await make({ persistence, migrations, restore: (r) => restored.push(r) }).replay();
    expect(restored.filter((r) => r.type !== 'metadata').map((r) => r.migrated)).toEqual([
      undefined,
      undefined,
    ]);
  });
});

describe('replay and migrations', () => {
  const chain: Migration<Rec>[] = [
    {
      sourceVersion: '1.0',
      targetVersion: '1.1',
      migrateRecord: (r) => ({ ...r, steps: [...((r.steps as string[]) ?? []), '1.1'] }),
    },
    {
      sourceVersion: '1.1',
      targetVersion: '1.2',
      migrateRecord: (r) => ({ ...r, steps: [...((r.steps as string[]) ?? []), '1.2'] }),
    },
  ];

  it('runs the whole chain, rewrites the log at the current version and flushes', async () => {
    const persistence = new InMemoryAgentRecordPersistence<Rec>([
      meta('1.0', 99),
      { type: 'a', time: 5 },
      { type: 'b', time: 6 },
    ]);
    const seenByMigration: string[] = [];
    const migrations = chain.map((m) => ({
      ...m,
      migrateRecord: (r: Rec) => {
        seenByMigration.push(r.type);
        return m.migrateRecord(r);
      },
    }));
    const restored: Array<[Rec, number]> = [];
    const records = make({
      persistence,
      protocolVersion: '1.2',
      migrations,
      restore: (r, { time }) => restored.push([r, time]),
    });
    const result = await records.replay();
    expect(result).toEqual({ records: 3, fromVersion: '1.0', migrated: true });
    expect(seenByMigration).not.toContain('metadata');
    expect(restored.map(([r, t]) => [r.type, r.steps, t])).toEqual([
      ['metadata', undefined, 99],
      ['a', ['1.1', '1.2'], 5],
      ['b', ['1.1', '1.2'], 6],
    ]);
    expect(persistence.records).toEqual([
      { type: 'metadata', protocol_version: '1.2', created_at: 99 },
      { type: 'a', time: 5, steps: ['1.1', '1.2'] },
      { type: 'b', time: 6, steps: ['1.1', '1.2'] },
    ]);
    expect(persistence.failing).toBe(false);
  });

  it('names a missing link', async () => {
    const persistence = new InMemoryAgentRecordPersistence<Rec>([meta('1.0'), { type: 'a' }]);
    const records = make({
      persistence,
      protocolVersion: '1.3',
      migrations: chain,
      restore: () => {},
    });
    const failure = await records.replay().catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(RecordsVersionError);
    expect((failure as Error).message).toMatch(/No migration from protocol version 1\.2/);
    expect((failure as Error).message).toMatch(/sourceVersion "1\.2"/);
  });

  it('replays a newer log unmigrated with a warning and leaves it alone', async () => {
    const original = [meta('1.5'), { type: 'future', x: 1 }];
    const persistence = new InMemoryAgentRecordPersistence<Rec>(original);
    const restored: Rec[] = [];
    const { kinds, onError } = reports();
    const records = make({
      persistence,
      protocolVersion: '1.2',
      migrations: chain,
      restore: (r) => restored.push(r),
      onError,
    });
    const result = await records.replay();
    expect(result.migrated).toBe(false);
    expect(result.fromVersion).toBe('1.5');
    expect(result.warning).toMatch(/newer than this code's 1\.2/);
    expect(kinds()).toEqual(['warning']);
    expect(restored).toEqual(original);
    expect(persistence.records).toEqual(original);
  });

  it('compares versions numerically: 1.10 is after 1.9', async () => {
    const persistence = new InMemoryAgentRecordPersistence<Rec>([meta('1.9'), { type: 'a' }]);
    const records = make({
      persistence,
      protocolVersion: '1.10',
      migrations: [
        { sourceVersion: '1.9', targetVersion: '1.10', migrateRecord: (r) => ({ ...r, m: 1 }) },
      ],
      restore: () => {},
    });
    expect(await records.replay()).toMatchObject({ migrated: true, fromVersion: '1.9' });
    expect(persistence.records[1]).toEqual({ type: 'a', m: 1 });

    const older = make({ persistence, protocolVersion: '1.9', restore: () => {} });
    expect((await older.replay()).warning).toMatch(/1\.10, newer than this code's 1\.9/);
  });

  it('sets restoring during restore and ignores logRecord inside it', async () => {
    const persistence = new InMemoryAgentRecordPersistence<Rec>([
      meta('1.0'),
      { type: 'a', time: 123 },
    ]);
    const observed: Array<unknown> = [];
    const records: AgentRecords<Rec> = make({
      persistence,
      restore: (r) => {
        observed.push(records.restoring);
        records.logRecord({ type: `echo-${r.type}` });
      },
    });
    expect(records.restoring).toBeNull();
    await records.replay();
    expect(records.restoring).toBeNull();
    expect(observed).toEqual([{ time: 1 }, { time: 123 }]);
    await records.flush();
    expect(persistence.records.map((r) => r.type)).toEqual(['metadata', 'a']);
  });

  it('refuses a log that does not start with metadata', async () => {
    const persistence = new InMemoryAgentRecordPersistence<Rec>([{ type: 'turn.prompt' }]);
    const records = make({ persistence, restore: () => {} });
    await expect(records.replay()).rejects.toThrow(RecordsVersionError);
    await expect(records.replay()).rejects.toThrow(/first record is of type "turn\.prompt"/);
  });

  it('refuses a malformed protocol version in the log', async () => {
    const persistence = new InMemoryAgentRecordPersistence<Rec>([meta('v1')]);
    await expect(make({ persistence }).replay()).rejects.toThrow(RecordsVersionError);
  });

  it('replays an empty or missing log as 0 records, and then writes metadata', async () => {
    const persistence = new InMemoryAgentRecordPersistence<Rec>();
    const records = make({ persistence });
    expect(await records.replay()).toEqual({ records: 0, fromVersion: null, migrated: false });
    records.logRecord({ type: 'a' });
    await records.flush();
    expect(persistence.records.map((r) => r.type)).toEqual(['metadata', 'a']);
  });

  it('persists observability records but never restores them', async () => {
    const persistence = new InMemoryAgentRecordPersistence<Rec>([
      meta('1.0'),
      { type: 'llm.request', request_id: 'r', model: 'm' },
      { type: 'turn.prompt' },
      { type: 'mcp.tools_discovered', server: 's', tools: [] },
    ]);
    const restored: string[] = [];
    const records = make({ persistence, restore: (r) => restored.push(r.type) });
    expect((await records.replay()).records).toBe(2);
    expect(restored).toEqual(['metadata', 'turn.prompt']);
  });

  it('rejects migrations that do not move forward or overlap', () => {
    expect(() =>
      make({
        migrations: [{ sourceVersion: '1.1', targetVersion: '1.0', migrateRecord: (r) => r }],
      }),
    ).toThrow(/does not move forward/);
    expect(() =>
      make({
        protocolVersion: '1.2',
        migrations: [
          { sourceVersion: '1.0', targetVersion: '1.1', migrateRecord: (r) => r },
          { sourceVersion: '1.0', targetVersion: '1.2', migrateRecord: (r) => r },
        ],
      }),
    ).toThrow(/Two migrations start at 1\.0/);
    expect(() => make({ protocolVersion: '1' })).toThrow(RecordsVersionError);
  });
});

describe('legacy adapter', () => {
  it('logs, flushes, closes and replays through a persistence of the previous contract', async () => {
    const legacy = new LegacyPersistence();
    const writer = make({ persistence: legacy });
    writer.logRecord({ type: 'a' });
    writer.logRecord({ type: 'b' });
    await writer.close();
    expect(legacy.records.map((r) => r.type)).toEqual(['metadata', 'a', 'b']);
    expect(legacy.closes).toBe(1);

    const restored: string[] = [];
    const reader = make({ persistence: legacy, restore: (r) => restored.push(r.type) });
    expect(await reader.replay()).toEqual({ records: 3, fromVersion: '1.0', migrated: false });
    expect(restored).toEqual(['metadata', 'a', 'b']);
    reader.logRecord({ type: 'c' });
    await reader.flush();
    expect(legacy.records.map((r) => r.type)).toEqual(['metadata', 'a', 'b', 'c']);
  });

  it('a migrating replay returns a warning instead of rewriting', async () => {
    const original = [meta('1.0'), { type: 'a' }];
    const legacy = new LegacyPersistence(original);
    const restored: Rec[] = [];
    const records = make({
      persistence: legacy,
      protocolVersion: '1.1',
      migrations: [
        { sourceVersion: '1.0', targetVersion: '1.1', migrateRecord: (r) => ({ ...r, m: true }) },
      ],
      restore: (r) => restored.push(r),
    });
    const result = await records.replay();
    expect(result.migrated).toBe(true);
    expect(result.warning).toMatch(/cannot rewrite/);
    expect(restored[1]).toEqual({ type: 'a', m: true });
    expect(legacy.records).toEqual(original);
  });
});
