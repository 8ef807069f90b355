import {
  type AgentRecordEnvelope,
  RecordsConflictError,
  type RecordsErrorInfo,
} from '@agent-records/types';
import { afterAll, describe, expect, it } from 'vitest';
import { available, dropSchema, newPool, schemaName } from '../test/database.js';
import { recordingPool } from '../test/recording-pool.js';
import { PostgresAgentRecordPersistence } from './pg-persistence.js';

// Batches of 1000 rows and more go by COPY: every row must be stored exactly as the INSERT of a
// small batch stores it (record, record_json, time), and a refusal inside one is found alone.
type Rec = AgentRecordEnvelope & { n: number; text?: string; bad?: string };
const schema = schemaName();
const pool = newPool({ max: 4 });
const recording = recordingPool();
afterAll(async () => {
  await pool.end();
  await recording.pool.end();
  if (available) await dropSchema(schema);
});

const TEXTS = [
  'tab\there',
  'line\nbreak',
  'cr\rhere',
  'back\\slash',
  'a\u0000b',
  '\\u0000',
  '😀',
  '\u2028',
  'plain',
];
/** The first and last times COPY sends (within 2^32 s of 2000-01-01, where the INSERT's float8 conversion is exact). */
const FIRST_COPIED = 946_684_800_000 - 2 ** 32 * 1000 + 1;
const LAST_COPIED = 946_684_800_000 + 2 ** 32 * 1000 - 1;

function records(count: number, time: (n: number) => number | undefined): Rec[] {
  return Array.from({ length: count }, (_, n) => {
    const at = time(n);
    return {
      type: 'test',
      n,
      text: TEXTS[n % TEXTS.length],
      ...(at !== undefined && { time: at }),
    };
  });
}

/** A statement sent that copies rows: a COPY, or a batch's transaction holding one. */
const COPIES = /^> (BEGIN; )?COPY/;
const copies = (statement: string) => COPIES.test(statement);

/** Every stored column of a session's rows, as the server gives them back. */
async function stored(sessionId: string) {
  const { rows } = await pool.query(
    `SELECT seq, record::text AS record, record_json, (extract(epoch FROM time) * 1000)::text AS ms
     FROM "${schema}".agent_records WHERE session_id = $1 ORDER BY seq`,
    [sessionId],
  );
  return rows;
}

/** One batch through the recording pool: the statements it sent. */
async function writeAtOnce(sessionId: string, batch: Rec[]): Promise<string[]> {
  const persistence = new PostgresAgentRecordPersistence<Rec>(sessionId, {
    pool: recording.pool,
    schema,
  });
  await persistence.flush(); // the schema and the head first: the batch below is written alone
  recording.statements.length = 0;
  for (const record of batch) persistence.append(record);
  await persistence.close();
  return recording.statements.slice();
}

/** The same records in batches of 100 (one INSERT statement each). */
async function writeInSmallBatches(sessionId: string, batch: Rec[]): Promise<void> {
  const persistence = new PostgresAgentRecordPersistence<Rec>(sessionId, { pool, schema });
  for (let i = 0; i < batch.length; i += 100) {
    for (const record of batch.slice(i, i + 100)) persistence.append(record);
    await persistence.flush();
  }
  await persistence.close();
}

describe.skipIf(!available)('large batches by COPY', () => {
  it('stores every record, its exact JSON and its time as the INSERT of small batches does', async () => {
    const batch = records(1500, (n) =>
      n % 7 === 0
        ? undefined
        : n === 1
          ? FIRST_COPIED
          : n === 2
            ? LAST_COPIED
            : n % 2 === 0
              ? Date.UTC(2026, 10, 29) + n
              : // spread over the whole span COPY sends
                FIRST_COPIED + ((n * 2_654_435_761) % (LAST_COPIED - FIRST_COPIED)),
    );
    const statements = await writeAtOnce('copied', batch);
    expect(statements.some(copies)).toBe(true);
    await writeInSmallBatches('inserted', batch);
    const [copied, inserted] = [await stored('copied'), await stored('inserted')];
    expect(copied).toHaveLength(1500);
    expect(copied).toEqual(inserted);
    const back: Rec[] = [];
    const reader = new PostgresAgentRecordPersistence<Rec>('copied', { pool, schema });
    for await (const record of reader.read()) back.push(record);
    expect(back).toEqual(batch);
  });

  it('a batch of several CopyData messages (strings of 100 KB, one record larger than a message, odd characters) is stored as the INSERT stores it', async () => {
    // About 4 MB in 1200 records: several messages of about 1 MiB, one record of 3 MB (a message
    // of its own size), strings of 100 KB made of every character COPY's text format escapes.
    const odd = 'tab\t nl\n cr\r bs\\ \\N \\. \u2028 \u0000 😀 é ';
    const batch = records(1200, (n) => Date.UTC(2026, 10, 29) + n).map((record, n) => ({
      ...record,
      ...(n % 50 === 3 && { text: odd.repeat(Math.ceil(100_000 / odd.length)) }),
      ...(n === 700 && { text: `${odd}${'x'.repeat(3_000_000)}${odd}` }),
    }));
    const statements = await writeAtOnce('messages', batch);
    // One COPY, not refused and cut into halves (those would be inserted: no ROLLBACK).
    expect(statements.filter((s) => copies(s) || s.startsWith('> ROLLBACK'))).toEqual([
      expect.stringMatching(COPIES),
    ]);
    await writeInSmallBatches('messages-small', batch);
    const [copied, inserted] = [await stored('messages'), await stored('messages-small')];
    expect(copied).toHaveLength(1200);
    expect(copied).toEqual(inserted);
    const back: Rec[] = [];
    const reader = new PostgresAgentRecordPersistence<Rec>('messages', { pool, schema });
    for await (const record of reader.read()) back.push(record);
    expect(back).toEqual(batch);
  });

  it('seqs past 2^32 are copied exactly (64-bit integers in the binary format)', async () => {
    const id = 'copy-high-seq';
    const first = new PostgresAgentRecordPersistence<Rec>(id, { pool, schema });
    first.append({ type: 'test', n: 0 });
    await first.close();
    const head = 2 ** 32 + 2 ** 20 + 7;
    await pool.query(
      `UPDATE "${schema}".agent_records_sessions SET head_seq = $2 WHERE session_id = $1`,
      [id, head],
    );
    await writeAtOnce(
      id,
      records(1200, (n) => Date.UTC(2000, 0, 1) - 1000 + n),
    );
    const { rows } = await pool.query(
      `SELECT seq::text AS seq, (record->>'n')::int AS n FROM "${schema}".agent_records
       WHERE session_id = $1 AND seq > 1 ORDER BY seq`,
      [id],
    );
    expect(rows).toHaveLength(1200);
    expect(rows.every((row, i) => row.seq === String(head + 1 + i) && row.n === i)).toBe(true);
  });

  it('a batch holding a time COPY cannot send as it is (a fraction of a millisecond, a far year) is inserted', async () => {
    for (const [id, odd] of [
      ['fraction', 1.5],
      ['far-year', LAST_COPIED + 1],
    ] as const) {
      const batch = records(1200, (n) => (n === 600 ? odd : Date.UTC(2026, 0, 1) + n));
      const statements = await writeAtOnce(id, batch);
      expect(statements.some(copies)).toBe(false);
      await writeInSmallBatches(`${id}-small`, batch);
      expect(await stored(id)).toEqual(await stored(`${id}-small`));
    }
  });

  it('a row the server refuses inside a COPY is found and refused alone; every other row is written once', async () => {
    const id = 'copy-refused';
    await new PostgresAgentRecordPersistence<Rec>(id, { pool, schema }).close(); // the tables
    await pool.query(
      `ALTER TABLE "${schema}".agent_records ADD CONSTRAINT copy_refused
       CHECK (session_id <> '${id}' OR record->>'bad' IS NULL OR (record->>'bad')::int > 0) NOT VALID`,
    );
    const reports: string[] = [];
    const persistence = new PostgresAgentRecordPersistence<Rec>(id, {
      pool,
      schema,
      onError: (_error, info: RecordsErrorInfo) => reports.push(`${info.kind}:${info.recordType}`),
    });
    try {
      // 3000 records of 2 KB, in several CopyData messages: the server refuses the row in the
      // second of them while the rest are still being sent.
      for (let n = 0; n < 3000; n++)
        persistence.append({
          type: n === 700 ? 'bad' : 'test',
          n,
          text: 'p'.repeat(2000),
          ...(n === 700 && { bad: 'x' }),
        });
      await persistence.close();
    } finally {
      await pool.query(`ALTER TABLE "${schema}".agent_records DROP CONSTRAINT copy_refused`);
    }
    expect(reports).toEqual(['record-refused:bad']);
    const { rows } = await pool.query(
      `SELECT seq, (record->>'n')::int AS n FROM "${schema}".agent_records WHERE session_id = $1 ORDER BY seq`,
      [id],
    );
    const kept = Array.from({ length: 3000 }, (_, n) => n).filter((n) => n !== 700);
    expect(rows.map((r) => [Number(r.seq), r.n])).toEqual(kept.map((n, i) => [i + 1, n]));
  });

  it('a large batch on a head another writer moved is refused whole (its COPY is failed): nothing of it is written, the connection is reused', async () => {
    const id = 'copy-fenced';
    const single = newPool({ max: 1 });
    try {
      const first = new PostgresAgentRecordPersistence<Rec>(id, { pool: single, schema });
      first.append({ type: 'test', n: 0 });
      await first.flush();
      // Another writer empties the log: the batch's seqs are free, only the fence can stop it.
      const second = new PostgresAgentRecordPersistence<Rec>(id, { pool, schema });
      second.rewrite([{ type: 'test', n: 1 }]);
      await second.close();
      for (let n = 100; n < 1600; n++) first.append({ type: 'test', n });
      await expect(first.flush()).rejects.toBeInstanceOf(RecordsConflictError);
      expect(first.unwrittenRecords()).toHaveLength(1500);
      await first.close().catch(() => {});
      // The one connection was rolled back and kept: it answers, outside any transaction.
      const { rows } = await single.query('SELECT now() = statement_timestamp() AS outside');
      expect(rows).toEqual([{ outside: true }]);
    } finally {
      await single.end();
    }
    const { rows } = await pool.query(
      `SELECT (record->>'n')::int AS n FROM "${schema}".agent_records WHERE session_id = $1 ORDER BY seq`,
      [id],
    );
    expect(rows.map((r) => r.n)).toEqual([1]);
  });

  it('a large batch whose fence fails on the server is a write failure (no wait for ever), written by the retry', async () => {
    const id = 'copy-fence-fails';
    await new PostgresAgentRecordPersistence<Rec>(id, { pool, schema }).close(); // the tables
    await pool.query(
      `CREATE FUNCTION "${schema}".refuse_fence() RETURNS trigger LANGUAGE plpgsql AS $$
       BEGIN RAISE EXCEPTION 'fence refused for the test' USING ERRCODE = 'P0001'; END $$`,
    );
    await pool.query(
      `CREATE TRIGGER refuse_fence BEFORE UPDATE ON "${schema}".agent_records_sessions
       FOR EACH ROW WHEN (OLD.session_id = '${id}') EXECUTE FUNCTION "${schema}".refuse_fence()`,
    );
    const reports: string[] = [];
    const persistence = new PostgresAgentRecordPersistence<Rec>(id, {
      pool,
      schema,
      onError: (_error, info: RecordsErrorInfo) => reports.push(info.kind),
    });
    try {
      for (let n = 0; n < 1500; n++) persistence.append({ type: 'test', n });
      await expect(persistence.flush()).rejects.toThrow(/fence refused for the test/);
    } finally {
      await pool.query(`DROP TRIGGER refuse_fence ON "${schema}".agent_records_sessions`);
    }
    await persistence.close();
    expect(reports).toEqual(['write-failed', 'write-recovered']);
    const { rows } = await pool.query(
      `SELECT count(*)::int AS rows, min(seq)::int AS first, max(seq)::int AS last
       FROM "${schema}".agent_records WHERE session_id = $1`,
      [id],
    );
    expect(rows).toEqual([{ rows: 1500, first: 1, last: 1500 }]);
  });
});
