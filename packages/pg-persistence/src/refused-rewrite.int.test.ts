import { randomUUID } from 'node:crypto';
import {
  type AgentRecordEnvelope,
  RecordsSerializeError,
  RecordsWriteError,
} from '@agent-records/types';
import { afterAll, describe, expect, it } from 'vitest';
import { available, dropSchema, newPool, schemaName, waitFor } from '../test/database.js';
import { PostgresAgentRecordPersistence } from './pg-persistence.js';

// A refused rewrite behaves as on the memory backend: reported once (record-refused), the next
// flush() rejects with RecordsWriteError whose cause is the refusal, the old log stays, and
// every append queued before or after it is written as if the rewrite had never been asked for.
type Rec = AgentRecordEnvelope & { n: number | bigint };
const schema = schemaName();
const pool = newPool({ max: 4 });
afterAll(async () => {
  await pool.end();
  if (available) await dropSchema(schema);
});

async function storedNumbers(sessionId: string): Promise<number[]> {
  const { rows } = await pool.query<{ n: number }>(
    `SELECT (record->>'n')::int AS n FROM "${schema}".agent_records WHERE session_id = $1 ORDER BY seq`,
    [sessionId],
  );
  return rows.map((row) => row.n);
}

function open(reports: Array<{ kind: string; error: Error }>) {
  return new PostgresAgentRecordPersistence<Rec>(`refused-rewrite-${randomUUID()}`, {
    pool,
    schema,
    onError: (error, info) => reports.push({ kind: info.kind, error }),
  });
}

const unserialisable = { type: 'bad', n: 1n } as Rec;

describe.skipIf(!available)('a refused rewrite', () => {
  it('a flush() called after a refused rewrite was reported rejects once with the refusal as its cause', async () => {
    const reports: Array<{ kind: string; error: Error }> = [];
    const persistence = open(reports);
    persistence.append({ type: 'test', n: 0 });
    await persistence.flush();
    persistence.rewrite([{ type: 'test', n: 100 }, unserialisable]);
    // Nobody is waiting: the writer meets the refusal in the background.
    await waitFor('the refusal report', () => reports.length > 0);
    expect(reports.map((r) => r.kind)).toEqual(['record-refused']);
    const flushed = await persistence.flush().then(
      () => null,
      (error: unknown) => error,
    );
    expect(flushed).toBeInstanceOf(RecordsWriteError);
    expect((flushed as RecordsWriteError).cause).toBeInstanceOf(RecordsSerializeError);
    expect((flushed as RecordsWriteError).cause).toBe(reports[0]?.error);
    await expect(persistence.flush()).resolves.toBeUndefined();
    await persistence.close();
    expect(await storedNumbers(persistence.sessionId)).toEqual([0]);
  });

  it('appends queued before a refused rewrite are written, in order, as if it had never been asked for', async () => {
    const reports: Array<{ kind: string; error: Error }> = [];
    const persistence = open(reports);
    persistence.append({ type: 'test', n: 0 });
    await persistence.flush();
    // One synchronous burst: the writer sees all of it at once.
    persistence.append({ type: 'test', n: 1 });
    persistence.append({ type: 'test', n: 2 });
    persistence.rewrite([{ type: 'test', n: 100 }, unserialisable]);
    persistence.append({ type: 'test', n: 3 });
    await expect(persistence.flush()).rejects.toThrow(/was refused and the old log kept/);
    await persistence.flush();
    expect(await storedNumbers(persistence.sessionId)).toEqual([0, 1, 2, 3]);
    // A rewrite that lands still replaces everything queued before it.
    persistence.append({ type: 'test', n: 4 });
    persistence.rewrite([{ type: 'test', n: 200 }]);
    persistence.append({ type: 'test', n: 5 });
    await persistence.close();
    expect(await storedNumbers(persistence.sessionId)).toEqual([200, 5]);
    expect(reports.map((r) => r.kind)).toEqual(['record-refused']);
  });

  it('a handler subscribed through setErrorHandler hears the refusal (the capability AgentRecords uses)', async () => {
    const heard: string[] = [];
    const persistence = new PostgresAgentRecordPersistence<Rec>(`subscribed-${randomUUID()}`, {
      pool,
      schema,
    });
    persistence.setErrorHandler((_error, info) => heard.push(`${info.kind}:${info.recordType}`));
    persistence.rewrite([unserialisable]);
    await expect(persistence.flush()).rejects.toThrow(/was refused and the old log kept/);
    expect(heard).toEqual(['record-refused:bad']);
    await persistence.close();
  });
});
