import type { AgentRecordEnvelope, RecordsErrorInfo, StoredSnapshot } from '@agent-records/types';
import { RecordsPositionError } from '@agent-records/types';
import { afterAll, describe, expect, it } from 'vitest';
import {
  available,
  dropSchema,
  generationOf,
  newPool,
  schemaName,
  waitFor,
} from '../test/database.js';
import { recordingPool } from '../test/recording-pool.js';
import { PostgresAgentRecordPersistence } from './pg-persistence.js';
import { storeSnapshot } from './snapshots.js';
import { qualified } from './sql.js';
import { PostgresAgentRecordStore } from './store.js';

type Rec = AgentRecordEnvelope & { n: number };
const rec = (n: number): Rec => ({ type: 'test', n });
const schema = schemaName();
const pool = newPool({ max: 6 });
const store = new PostgresAgentRecordStore({ pool, schema });
const recording = recordingPool();
afterAll(async () => {
  await recording.pool.end();
  await pool.end();
  if (available) await dropSchema(schema);
});

function deferred<T>() {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

function open(id: string, reports: string[] = [], onPool = pool) {
  return new PostgresAgentRecordPersistence<Rec>(id, {
    pool: onPool,
    schema,
    onError: (error: Error, info: RecordsErrorInfo) =>
      reports.push(`${info.kind}: ${error.message}`),
  });
}

async function rowsOf(id: string): Promise<number> {
  const { rows } = await pool.query<{ n: string }>(
    `SELECT count(*) AS n FROM "${schema}".agent_records WHERE session_id = $1`,
    [id],
  );
  return Number(rows[0]?.n);
}

async function tailAfter(persistence: PostgresAgentRecordPersistence<Rec>, at: StoredSnapshot) {
  const out: Rec[] = [];
  for await (const batch of persistence.readFrom(at.position)) out.push(...batch.records);
  return out;
}

describe.skipIf(!available)('snapshots', () => {
  it('is stored only after the rows it covers are committed, at their end, and later appends are not held up while its data is made', async () => {
    await store.ensureSchema();
    const reports: string[] = [];
    const persistence = open('after-commit', reports, recording.pool);
    for (let n = 0; n < 3; n++) persistence.append(rec(n));
    const data = deferred<string>();
    persistence.writeSnapshot({ records: 3, data: data.promise });
    for (let n = 3; n < 5; n++) persistence.append(rec(n));
    // Written while the data is still being made: no flush needed, none possible yet.
    await waitFor(
      'the appends after the snapshot',
      async () => (await rowsOf('after-commit')) === 5,
    );
    expect(await persistence.readSnapshot()).toBeNull();

    data.resolve('{"state":"after 3"}');
    await persistence.flush();
    const stored = (await persistence.readSnapshot()) as StoredSnapshot;
    const generation = await generationOf(pool, schema, 'after-commit');
    expect(stored).toMatchObject({
      position: { seq: 3, generation },
      records: 3,
      bytes: 19,
      data: '{"state":"after 3"}',
    });
    expect(Math.abs(stored.writtenAt - Date.now())).toBeLessThan(60_000);
    expect(await tailAfter(persistence, stored)).toEqual([rec(3), rec(4)]);

    // With its data at hand, it is still sent only once the batch holding its rows committed.
    const log = recording.statements;
    log.length = 0;
    persistence.append(rec(5));
    persistence.writeSnapshot({ records: 6, data: '{"state":"after 6"}' });
    persistence.append(rec(6));
    await persistence.flush();
    // Appends are one autocommitted statement (the fence, then the rows): its answer is the commit.
    const firstInsert = log.indexOf('> WITH fence AS');
    const itsCommit = log.indexOf('< WITH fence AS', firstInsert);
    const snapshotSent = log.findIndex((s) => s.includes('agent_records_snapshots'));
    expect(firstInsert).toBeGreaterThanOrEqual(0);
    expect(itsCommit).toBeGreaterThan(firstInsert);
    expect(snapshotSent).toBeGreaterThan(itsCommit);
    expect((await persistence.readSnapshot())?.position).toEqual({ seq: 6, generation });
    expect(reports).toEqual([]);
    await persistence.close();
  });

  it('a snapshot of an idle log takes its head; only the newest is kept', async () => {
    const writer = open('idle');
    for (let n = 0; n < 4; n++) writer.append(rec(n));
    await writer.close();
    // A new process that has not read the log: the writer learns the head to place it.
    const persistence = open('idle');
    persistence.writeSnapshot({ records: 4, data: 'four' });
    await persistence.flush();
    const generation = await generationOf(pool, schema, 'idle');
    expect((await persistence.readSnapshot())?.position).toEqual({ seq: 4, generation });
    persistence.append(rec(4));
    persistence.writeSnapshot({ records: 5, data: 'five' });
    await persistence.flush();
    expect(await persistence.readSnapshot()).toMatchObject({
      position: { seq: 5, generation },
      data: 'five',
    });
    const { rows } = await pool.query(
      `SELECT count(*)::int AS n FROM "${schema}".agent_records_snapshots WHERE session_id = 'idle'`,
    );
    expect(rows).toEqual([{ n: 1 }]);
    await persistence.close();
  });

  it('a rewrite deletes the stored snapshot in its transaction; one asked for before a rewrite is dropped as a warning', async () => {
    const reports: string[] = [];
    const persistence = open('rewritten', reports);
    persistence.append(rec(0));
    persistence.writeSnapshot({ records: 1, data: 'old' });
    await persistence.flush();
    const old = (await persistence.readSnapshot()) as StoredSnapshot;
    const oldGeneration = (await generationOf(pool, schema, 'rewritten')) as number;
    expect(old.position).toEqual({ seq: 1, generation: oldGeneration });

    const data = deferred<string>();
    persistence.append(rec(1));
    persistence.writeSnapshot({ records: 2, data: data.promise });
    persistence.rewrite([rec(10)]);
    data.resolve('stale');
    await persistence.flush();
    expect(await persistence.readSnapshot()).toBeNull();
    expect(reports).toEqual([
      expect.stringMatching(
        /^warning: The snapshot of session rewritten covering 2 records was dropped: the log is rewritten/,
      ),
    ]);
    await expect(tailAfter(persistence, old)).rejects.toBeInstanceOf(RecordsPositionError);

    // A write of the old generation that arrives after the rewrite committed is refused by the
    // statement itself (the sessions row is in the rewrite's new generation now).
    await expect(
      storeSnapshot(pool, qualified({ schema, table: 'agent_records' }), 'rewritten', {
        records: 1,
        data: 'late',
        bytes: 4,
        position: { seq: 1, generation: oldGeneration },
      }),
    ).rejects.toThrow(/rewritten or deleted before it could be stored/);
    expect(await persistence.readSnapshot()).toBeNull();

    persistence.writeSnapshot({ records: 1, data: 'new' });
    await persistence.close();
    const newGeneration = await generationOf(pool, schema, 'rewritten');
    expect(newGeneration).toBeGreaterThan(oldGeneration);
    expect(await open('rewritten').readSnapshot()).toMatchObject({
      position: { seq: 1, generation: newGeneration },
      data: 'new',
    });
  });

  it('data that rejects drops the snapshot as a warning: no episode, flush resolves; delete() removes the snapshot', async () => {
    const reports: string[] = [];
    const persistence = open('rejected', reports);
    persistence.append(rec(0));
    persistence.writeSnapshot({ records: 1, data: Promise.reject(new Error('state too big')) });
    await persistence.flush();
    expect(reports).toEqual([
      expect.stringMatching(/^warning: .*dropped: its data could not be made \(state too big\)/),
    ]);
    expect(await persistence.readSnapshot()).toBeNull();
    persistence.writeSnapshot({ records: 1, data: 'ok' });
    await persistence.close();
    expect(await rowsOf('rejected')).toBe(1);

    expect(await store.delete('rejected')).toBe(true);
    const { rows } = await pool.query(
      `SELECT count(*)::int AS n FROM "${schema}".agent_records_snapshots WHERE session_id = 'rejected'`,
    );
    expect(rows).toEqual([{ n: 0 }]);
  });
});
