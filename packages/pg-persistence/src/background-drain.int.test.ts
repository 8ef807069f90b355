import { randomUUID } from 'node:crypto';
import { type AgentRecordEnvelope, RecordsOverflowError } from '@agent-records/types';
import { afterAll, describe, expect, it } from 'vitest';
import { available, dropSchema, newPool, schemaName } from '../test/database.js';
import { PostgresAgentRecordPersistence } from './pg-persistence.js';

type Rec = AgentRecordEnvelope & { n: number; text?: string };
const schema = schemaName();
const pool = newPool({ max: 4 });
afterAll(async () => {
  await pool.end();
  if (available) await dropSchema(schema);
});

/** What another instance reads from the server: only rows that were written. */
async function storedNumbers(sessionId: string): Promise<number[]> {
  const reader = new PostgresAgentRecordPersistence<Rec>(sessionId, { pool, schema });
  const out: number[] = [];
  for await (const record of reader.read()) out.push(record.n);
  return out;
}

async function waitForRows(sessionId: string, count: number, deadlineMs = 15_000) {
  const deadline = Date.now() + deadlineMs;
  let seen = await storedNumbers(sessionId);
  while (seen.length < count && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 20));
    seen = await storedNumbers(sessionId);
  }
  return seen;
}

describe.skipIf(!available)('PostgresAgentRecordPersistence everyday paths', () => {
  it('writes a record appended right after an awaited flush without another flush', async () => {
    for (let round = 0; round < 5; round++) {
      const sessionId = `drain-${randomUUID()}`;
      const persistence = new PostgresAgentRecordPersistence<Rec>(sessionId, { pool, schema });
      persistence.append({ type: 'test', n: 1 });
      await persistence.flush();
      persistence.append({ type: 'test', n: 2 });
      expect(await waitForRows(sessionId, 2)).toEqual([1, 2]);
      await persistence.close();
    }
  });

  it('counts maxPendingBytes in UTF-8 bytes and reports a dropped burst on one flush only', async () => {
    const sessionId = `overflow-${randomUUID()}`;
    const persistence = new PostgresAgentRecordPersistence<Rec>(sessionId, {
      pool,
      schema,
      maxPendingBytes: 1000,
      onError: () => {},
    });
    // Nothing is written before a later turn of the event loop: the first record stays queued.
    persistence.append({ type: 'test', n: 0, text: 'é'.repeat(400) }); // 800+ bytes in UTF-8
    let thrown = 0;
    for (let n = 1; n <= 81; n++) {
      try {
        persistence.append({ type: 'test', n, text: 'é'.repeat(400) });
      } catch (error) {
        expect(error).toBeInstanceOf(RecordsOverflowError);
        thrown++;
      }
    }
    expect(thrown).toBe(81);
    await expect(persistence.flush()).rejects.toMatchObject({ dropped: 81 });
    await expect(persistence.flush()).resolves.toBeUndefined();
    await persistence.close();
    expect(await storedNumbers(sessionId)).toEqual([0]);
  });
});
