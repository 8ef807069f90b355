import { randomUUID } from 'node:crypto';
import { describePersistenceContract } from '@agent-records/persistence-tests';
import {
  type AgentRecordEnvelope,
  RecordsConflictError,
  RecordsWriteError,
} from '@agent-records/types';
import { afterAll, describe, expect, it } from 'vitest';
import { available, dropSchema, newPool, schemaName } from '../test/database.js';
import { PostgresAgentRecordPersistence } from './pg-persistence.js';
import { ensureSchema, SCHEMA_VERSION } from './schema.js';
import { PostgresAgentRecordStore, type PostgresSessionInfo } from './store.js';

type Rec = AgentRecordEnvelope & { n: number; text?: string };
const schema = schemaName();
const pool = newPool({ max: 8 });
afterAll(async () => {
  await pool.end();
  if (available) await dropSchema(schema);
});

const rec = (n: number): Rec => ({ type: 'test', n });
async function readAll(persistence: PostgresAgentRecordPersistence<Rec>): Promise<Rec[]> {
  const out: Rec[] = [];
  for await (const record of persistence.read()) out.push(record);
  return out;
}

describe.skipIf(!available)('PostgresAgentRecordPersistence', () => {
  describePersistenceContract(
    'PostgresAgentRecordPersistence',
    () => {
      const sessionId = `contract-${randomUUID()}`;
      const constraint = `fault_${randomUUID().replaceAll('-', '').slice(0, 12)}`;
      return {
        open: (options) =>
          new PostgresAgentRecordPersistence(sessionId, {
            pool,
            schema,
            onError: options?.onError ?? (() => {}),
          }),
        openReader: () => new PostgresAgentRecordPersistence(sessionId, { pool, schema }),
        // A real server-side fault: a CHECK constraint that refuses this session's rows.
        injectWriteFault: async () => {
          await ensureSchema(pool, { schema, table: 'agent_records' });
          await pool.query(
            `ALTER TABLE "${schema}".agent_records ADD CONSTRAINT ${constraint} CHECK (session_id <> '${sessionId}') NOT VALID`,
          );
          return {
            clear: async () => {
              await pool.query(
                `ALTER TABLE "${schema}".agent_records DROP CONSTRAINT ${constraint}`,
              );
            },
          };
        },
      };
    },
    { expectCapabilities: ['readFrom', 'snapshots', 'title'] },
  );

  it('stores one row per record with session, sequence, jsonb record and time', async () => {
    const persistence = new PostgresAgentRecordPersistence<Rec>('rows', { pool, schema });
    persistence.append({ type: 'a', n: 1, time: Date.UTC(2026, 0, 2) });
    persistence.append({ type: 'b', n: 2 });
    await persistence.close();
    const { rows } = await pool.query(
      `SELECT session_id, seq, record, time FROM "${schema}".agent_records WHERE session_id = 'rows' ORDER BY seq`,
    );
    expect(rows).toEqual([
      {
        session_id: 'rows',
        seq: '1',
        record: { type: 'a', n: 1, time: Date.UTC(2026, 0, 2) },
        time: new Date(Date.UTC(2026, 0, 2)),
      },
      { session_id: 'rows', seq: '2', record: { type: 'b', n: 2 }, time: null },
    ]);
  });

  it('group-commits a burst of appends as one transaction', async () => {
    const persistence = new PostgresAgentRecordPersistence<Rec>('burst', { pool, schema });
    persistence.append(rec(0));
    await persistence.flush();
    for (let i = 1; i <= 12_000; i++) persistence.append(rec(i));
    await persistence.flush();
    // Each row's xmin is the transaction that inserted it: counted on this session's own rows,
    // so other tests and packages using the database at the same time cannot change the count.
    const transactions = await pool.query(
      `SELECT count(DISTINCT xmin::text)::int AS n FROM "${schema}".agent_records WHERE session_id = 'burst' AND seq > 1`,
    );
    expect(transactions.rows[0].n).toBe(1);
    expect((await readAll(persistence)).map((r) => r.n)).toEqual(
      Array.from({ length: 12_001 }, (_, i) => i),
    );
    await persistence.close();
  });

  it('fences a second writer: the one that loses gets RecordsConflictError and keeps its records', async () => {
    const first = new PostgresAgentRecordPersistence<Rec>('fenced', {
      pool,
      schema,
      onError: () => {},
    });
    first.append(rec(1));
    await first.flush();

    const reports: string[] = [];
    const second = new PostgresAgentRecordPersistence<Rec>('fenced', {
      pool,
      schema,
      onError: (error, info) => reports.push(`${info.kind}:${error.name}`),
    });
    expect((await readAll(second)).map((r) => r.n)).toEqual([1]); // a replay fixes its head
    first.append(rec(2));
    await first.flush();
    second.append(rec(100));
    second.append(rec(101));
    const failure = await second.flush().catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(RecordsConflictError);
    expect(reports).toEqual(['write-failed:RecordsConflictError']);
    expect(second.unwrittenRecords().map((r) => r.n)).toEqual([100, 101]);
    await expect(second.close()).rejects.toBeInstanceOf(RecordsConflictError);

    first.append(rec(3));
    await first.close();
    const reader = new PostgresAgentRecordPersistence<Rec>('fenced', { pool, schema });
    expect((await readAll(reader)).map((r) => r.n)).toEqual([1, 2, 3]);
  });

  it('a writer that started later wins, and the earlier one is stopped on its next write', async () => {
    const early = new PostgresAgentRecordPersistence<Rec>('later', {
      pool,
      schema,
      onError: () => {},
    });
    early.append(rec(1));
    await early.flush();
    const late = new PostgresAgentRecordPersistence<Rec>('later', {
      pool,
      schema,
      onError: () => {},
    });
    late.append(rec(2));
    await late.flush();
    early.append(rec(3));
    await expect(early.flush()).rejects.toBeInstanceOf(RecordsConflictError);
    await late.close();
    const rows = await pool.query(
      `SELECT record->>'n' AS n FROM "${schema}".agent_records WHERE session_id = 'later' ORDER BY seq`,
    );
    expect(rows.rows.map((r) => Number(r.n))).toEqual([1, 2]);
    await early.close().catch(() => {});
  });

  it('rewrites in one transaction: a concurrent reader sees the whole old log or the whole new one', async () => {
    const writer = new PostgresAgentRecordPersistence<Rec>('rewrite', { pool, schema });
    for (let i = 0; i < 5000; i++) writer.append({ type: 'old', n: i });
    await writer.flush();
    // The reader reads again and again from before the rewrite until it has seen the new log
    // (however long one read takes on a busy machine), or a deadline after the commit passes.
    const seen = new Set<string>();
    let deadline = Number.POSITIVE_INFINITY;
    const reader = (async () => {
      while (!seen.has('new:20000') && Date.now() < deadline) {
        const fresh = new PostgresAgentRecordPersistence<Rec>('rewrite', { pool, schema });
        const records = await readAll(fresh);
        const types = new Set(records.map((r) => r.type));
        seen.add(`${[...types].join('+')}:${records.length}`);
      }
    })();
    try {
      writer.rewrite(Array.from({ length: 20_000 }, (_, n) => ({ type: 'new', n })));
      await writer.flush();
    } finally {
      deadline = Date.now() + 30_000;
    }
    await reader;
    await writer.close();
    for (const view of seen) expect(['old:5000', 'new:20000']).toContain(view);
    expect(seen.has('new:20000'), 'the reader saw the new log before the deadline').toBe(true);
  });

  it('ensureSchema is idempotent and safe from many connections at once', async () => {
    const fresh = schemaName();
    const pools = Array.from({ length: 6 }, () => newPool({ max: 1 }));
    try {
      await Promise.all(
        pools.map((p) => ensureSchema(p, { schema: fresh, table: 'agent_records' })),
      );
      await Promise.all(
        pools.map((p) => ensureSchema(p, { schema: fresh, table: 'agent_records' })),
      );
      const [first] = pools as [ReturnType<typeof newPool>];
      const { rows } = await first.query(
        `SELECT value FROM "${fresh}".agent_records_meta WHERE key = 'schema_version'`,
      );
      expect(rows).toEqual([{ value: String(SCHEMA_VERSION) }]);
    } finally {
      await Promise.all(pools.map((p) => p.end()));
      await dropSchema(fresh);
    }
  });

  it('the store opens, lists and deletes sessions', async () => {
    const store = new PostgresAgentRecordStore({ pool, schema, table: 'store_records' });
    for (const id of ['s-a', 's-b']) {
      const p = store.open<Rec>(id);
      p.append(rec(1));
      p.append(rec(2));
      await p.close();
    }
    // Newest write first (s-b), unless both were written in the same millisecond (then by id).
    const listed = await store.list();
    const [newest, oldest] = listed as [PostgresSessionInfo, PostgresSessionInfo];
    expect(newest.updatedAt).toBeGreaterThanOrEqual(oldest.updatedAt);
    expect(listed.map((s) => [s.id, s.records]).sort()).toEqual([
      ['s-a', 2],
      ['s-b', 2],
    ]);
    expect(await store.delete('s-a')).toBe(true);
    expect(await store.delete('s-a')).toBe(false);
    expect((await store.list()).map((s) => s.id)).toEqual(['s-b']);
    expect(() => store.open('')).toThrow(/session id/);
  });

  it('refuses a rewrite holding an unserialisable record as a whole and keeps the old log', async () => {
    const reports: string[] = [];
    const persistence = new PostgresAgentRecordPersistence<Rec>('refused-rewrite', {
      pool,
      schema,
      onError: (_error, info) => reports.push(`${info.kind}:${info.recordType}`),
    });
    for (let i = 0; i < 3; i++) persistence.append(rec(i));
    await persistence.flush();
    persistence.rewrite([rec(100), { type: 'bad', n: 1n } as unknown as Rec]);
    await expect(persistence.flush()).rejects.toThrow(/was refused and the old log kept/);
    expect(reports).toEqual(['record-refused:bad']);
    persistence.append(rec(3));
    await persistence.close();
    const reader = new PostgresAgentRecordPersistence<Rec>('refused-rewrite', { pool, schema });
    expect((await readAll(reader)).map((r) => r.n)).toEqual([0, 1, 2, 3]);
  });

  it('a failed write is retried by flush and lands once', async () => {
    const id = 'retry';
    const persistence = new PostgresAgentRecordPersistence<Rec>(id, {
      pool,
      schema,
      onError: () => {},
    });
    persistence.append(rec(0));
    await persistence.flush();
    await pool.query(
      `ALTER TABLE "${schema}".agent_records ADD CONSTRAINT retry_fault CHECK (session_id <> '${id}') NOT VALID`,
    );
    for (let i = 1; i < 100; i++) persistence.append(rec(i));
    await expect(persistence.flush()).rejects.toBeInstanceOf(RecordsWriteError);
    await expect(persistence.flush()).rejects.toBeInstanceOf(RecordsWriteError);
    await pool.query(`ALTER TABLE "${schema}".agent_records DROP CONSTRAINT retry_fault`);
    await persistence.close();
    const rows = await pool.query(
      `SELECT seq, record->>'n' AS n FROM "${schema}".agent_records WHERE session_id = $1 ORDER BY seq`,
      [id],
    );
    expect(rows.rows.map((r) => [Number(r.seq), Number(r.n)])).toEqual(
      Array.from({ length: 100 }, (_, i) => [i + 1, i]),
    );
  });
});
