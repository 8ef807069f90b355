import { AgentRecords } from '@agent-records/core';
import {
  type AgentRecordEnvelope,
  RecordsConflictError,
  type RecordsErrorInfo,
} from '@agent-records/types';
import { afterAll, describe, expect, it } from 'vitest';
import { available, dropSchema, newPool, schemaName, waitFor } from '../test/database.js';
import { PostgresAgentRecordPersistence } from './pg-persistence.js';
import { PostgresAgentRecordStore } from './store.js';

// The README's own example, through the core: a host opens a session, replays it, logs.
type Rec = AgentRecordEnvelope & { n?: number };
const schema = schemaName();
const pool = newPool({ max: 6 });
const store = new PostgresAgentRecordStore({ pool, schema });
afterAll(async () => {
  await store.close();
  await pool.end();
  if (available) await dropSchema(schema);
});

async function storedTypes(sessionId: string): Promise<string[]> {
  const { rows } = await pool.query<{ type: string }>(
    `SELECT record->>'type' AS type FROM "${schema}".agent_records WHERE session_id = $1 ORDER BY seq`,
    [sessionId],
  );
  return rows.map((row) => row.type);
}

function reporter(reports: string[]) {
  return (error: Error, info: RecordsErrorInfo) => reports.push(`${info.kind}:${error.name}`);
}

describe.skipIf(!available)('a session through the core', () => {
  it('the first write of a new session after replay() of its empty log is committed, not refused as a conflict', async () => {
    await store.ensureSchema();
    const reports: string[] = [];
    const records = new AgentRecords<Rec>({
      persistence: store.open('fresh-after-replay'),
      protocolVersion: '1.0',
      restore: () => {},
      onError: reporter(reports),
    });
    expect((await records.replay()).records).toBe(0);
    records.logRecord({ type: 'turn.prompt', n: 1 });
    await records.flush();
    expect(reports).toEqual([]);
    expect(await storedTypes('fresh-after-replay')).toEqual(['metadata', 'turn.prompt']);
    await records.close();
  });

  it("a host's ordinary life: open, replay an empty log, log, flush, log and let the background write land, close, reopen, replay", async () => {
    const id = 'ordinary-life';
    const reports: string[] = [];
    const restored: string[] = [];
    const open = () =>
      new AgentRecords<Rec>({
        persistence: store.open(id),
        protocolVersion: '1.0',
        restore: (record) => {
          restored.push(record.type);
        },
        onError: reporter(reports),
      });

    const first = open();
    expect(await first.replay()).toMatchObject({ records: 0, fromVersion: null });
    first.logRecord({ type: 'turn.prompt', n: 1 });
    await first.flush();
    expect(await storedTypes(id)).toEqual(['metadata', 'turn.prompt']);
    // Logged and left alone: the writer drains it without anyone calling flush().
    first.logRecord({ type: 'turn.steer', n: 2 });
    await waitFor(
      'the background write of turn.steer',
      async () => (await storedTypes(id)).length === 3,
    );
    expect(await storedTypes(id)).toEqual(['metadata', 'turn.prompt', 'turn.steer']);
    await first.close();

    const second = open();
    expect(await second.replay()).toMatchObject({ records: 3, fromVersion: '1.0' });
    expect(restored).toEqual(['metadata', 'turn.prompt', 'turn.steer']);
    // The replayed last segment is at the current version: no second metadata record.
    second.logRecord({ type: 'turn.cancel', n: 3 });
    await second.close();
    expect(await storedTypes(id)).toEqual(['metadata', 'turn.prompt', 'turn.steer', 'turn.cancel']);
    expect(reports).toEqual([]);
  });

  it('through the core, records the store cannot hold are refused alone: reported, flush resolves, later records written', async () => {
    const id = 'refused-through-core';
    const reports: string[] = [];
    const records = new AgentRecords<Rec>({
      persistence: store.open(id),
      protocolVersion: '1.0',
      restore: () => {},
      onError: (error, info) => reports.push(`${info.kind}:${info.recordType}:${error.name}`),
    });
    await records.replay();
    records.logRecord({ type: 'turn.prompt', n: 1 });
    records.logRecord({ type: 'lone', n: 2, text: 'broken \ud800' } as Rec);
    records.logRecord({ type: 'too-late', n: 3, time: 1e20 });
    records.logRecord({ type: 'too-early', n: 4, time: -8e15 });
    records.logRecord({ type: 'turn.steer', n: 5 });
    await records.flush();
    records.logRecord({ type: 'turn.cancel', n: 6 });
    await records.close();
    expect(reports).toEqual([
      'record-refused:lone:RecordsSerializeError',
      'record-refused:too-late:RecordsInvalidError',
      'record-refused:too-early:RecordsInvalidError',
    ]);
    expect(await storedTypes(id)).toEqual(['metadata', 'turn.prompt', 'turn.steer', 'turn.cancel']);
  });

  it('a rewrite as the first write of a replayed empty session is committed', async () => {
    const persistence = store.open<Rec>('rewrite-first');
    for await (const _ of persistence.read()) throw new Error('the session should be empty');
    persistence.rewrite([{ type: 'metadata' }, { type: 'a' }]);
    await persistence.close();
    expect(await storedTypes('rewrite-first')).toEqual(['metadata', 'a']);
  });

  it('a conflict says how many records the stopped writer kept', async () => {
    const id = 'conflict-count';
    const loser = new PostgresAgentRecordPersistence<Rec>(id, { pool, schema, onError: () => {} });
    for await (const _ of loser.read()) throw new Error('the session should be empty');
    const winner = store.open<Rec>(id);
    winner.append({ type: 'winner' });
    await winner.close();
    loser.append({ type: 'lost', n: 1 });
    loser.append({ type: 'lost', n: 2 });
    const failure = await loser.flush().catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(RecordsConflictError);
    expect((failure as Error).message).toMatch(/its 2 unwritten records are kept/);
    expect(loser.unwrittenRecords()).toHaveLength(2);
    await expect(loser.close()).rejects.toBeInstanceOf(RecordsConflictError);
    expect(await storedTypes(id)).toEqual(['winner']);
  });
});
