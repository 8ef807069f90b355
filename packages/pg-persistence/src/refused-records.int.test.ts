import {
  type AgentRecordEnvelope,
  RecordsInvalidError,
  RecordsSerializeError,
} from '@agent-records/types';
import { afterAll, describe, expect, it } from 'vitest';
import { available, dropSchema, newPool, schemaName } from '../test/database.js';
import { PostgresAgentRecordPersistence } from './pg-persistence.js';
import { ensureSchema } from './schema.js';
import { MAX_STORABLE_TIME, MIN_STORABLE_TIME } from './storable.js';

// A record the store cannot hold is refused on its own: never an episode, never a blocked log.
type Rec = AgentRecordEnvelope & { n: number; text?: string; bad?: string; [key: string]: unknown };
const schema = schemaName();
const pool = newPool({ max: 4 });
afterAll(async () => {
  await pool.end();
  if (available) await dropSchema(schema);
});

function open(sessionId: string, reports: string[]) {
  return new PostgresAgentRecordPersistence<Rec>(sessionId, {
    pool,
    schema,
    onError: (error, info) => reports.push(`${info.kind}:${info.recordType ?? error.name}`),
  });
}

/** Each row's seq, n and time column (epoch ms, or null), in order. */
async function rows(sessionId: string): Promise<Array<[number, number, number | null]>> {
  const result = await pool.query<{ seq: string; n: number; ms: string | null }>(
    `SELECT seq, (record->>'n')::int AS n, (extract(epoch FROM time) * 1000)::text AS ms
     FROM "${schema}".agent_records WHERE session_id = $1 ORDER BY seq`,
    [sessionId],
  );
  return result.rows.map((r) => [Number(r.seq), r.n, r.ms === null ? null : Number(r.ms)]);
}

/** A real server-side refusal for a data reason: casting `bad` to int fails (SQLSTATE 22P02). */
async function refuseBadRowsOnTheServer(sessionId: string): Promise<() => Promise<void>> {
  await ensureSchema(pool, { schema, table: 'agent_records' });
  const name = `cast_${sessionId.replaceAll('-', '_')}`;
  await pool.query(
    `ALTER TABLE "${schema}".agent_records ADD CONSTRAINT ${name}
     CHECK (session_id <> '${sessionId}' OR record->>'bad' IS NULL OR (record->>'bad')::int > 0) NOT VALID`,
  );
  return async () => {
    await pool.query(`ALTER TABLE "${schema}".agent_records DROP CONSTRAINT ${name}`);
  };
}

describe.skipIf(!available)('records PostgreSQL cannot hold', () => {
  it('append refuses a record holding a lone surrogate at once; the records around it are written and flush resolves', async () => {
    const reports: string[] = [];
    const persistence = open('lone-surrogate', reports);
    const lone: Rec[] = [
      { type: 'bad', n: -1, text: '\ud800' },
      { type: 'bad', n: -1, text: `a\udc00b` },
      { type: 'bad', n: -1, nested: [{ deep: 'ok\ud83d' }] },
      { type: 'bad', n: -1, '\udfff': 'key' },
    ];
    persistence.append({ type: 'test', n: 0 });
    for (const record of lone) {
      expect(() => persistence.append(record)).toThrow(RecordsSerializeError);
      expect(() => persistence.append(record)).toThrow(/lone UTF-16 surrogate.*toWellFormed/);
    }
    persistence.append({ type: 'test', n: 1 });
    await persistence.flush();
    await persistence.close();
    expect(reports).toEqual([]);
    expect((await rows('lone-surrogate')).map(([seq, n]) => [seq, n])).toEqual([
      [1, 0],
      [2, 1],
    ]);
  });

  it('surrogate pairs, the literal text \\ud800 and U+0000 are stored exactly', async () => {
    const persistence = open('well-formed', []);
    const texts = ['😀 \ud83d\ude00', '\\ud800', '\\\\ud800', 'a\u0000b', '\u2028'];
    for (const [n, text] of texts.entries()) persistence.append({ type: 'test', n, text });
    await persistence.close();
    const reader = open('well-formed', []);
    const back: unknown[] = [];
    for await (const record of reader.read()) back.push(record.text);
    expect(back).toEqual(texts);
  });

  it('append refuses a time before PostgreSQL can hold (-8e15) at once; the log keeps flowing', async () => {
    const reports: string[] = [];
    const persistence = open('time-too-early', reports);
    persistence.append({ type: 'test', n: 0, time: 1 });
    expect(() => persistence.append({ type: 'bad', n: -1, time: -8e15 })).toThrow(
      RecordsInvalidError,
    );
    persistence.append({ type: 'test', n: 1, time: 2 });
    await persistence.flush();
    await persistence.close();
    expect(reports).toEqual([]);
    expect(await rows('time-too-early')).toEqual([
      [1, 0, 1],
      [2, 1, 2],
    ]);
  });

  it('append refuses a time a Date cannot hold (1e20) without queueing it: no copies, every time on its own row', async () => {
    const reports: string[] = [];
    const persistence = open('time-too-late', reports);
    persistence.append({ type: 'test', n: 0, time: 1000 });
    for (let attempt = 0; attempt < 3; attempt++) {
      expect(() => persistence.append({ type: 'bad', n: -1, time: 1e20 })).toThrow(
        /time.*outside what PostgreSQL's time column can hold/,
      );
      await persistence.flush();
    }
    persistence.append({ type: 'test', n: 1, time: 2000 });
    persistence.append({ type: 'test', n: 2 });
    await persistence.close();
    expect(reports).toEqual([]);
    expect(await rows('time-too-late')).toEqual([
      [1, 0, 1000],
      [2, 1, 2000],
      [3, 2, null],
    ]);
  });

  it('times before year 1 and after 9999 that PostgreSQL holds are stored on their own rows', async () => {
    const reports: string[] = [];
    const persistence = open('time-edges', reports);
    const times = [MIN_STORABLE_TIME, -6e13, 0, 3e14, MAX_STORABLE_TIME];
    for (const [n, time] of times.entries()) persistence.append({ type: 'test', n, time });
    await persistence.close();
    expect(reports).toEqual([]);
    expect(await rows('time-edges')).toEqual(times.map((time, n) => [n + 1, n, time]));
  });

  it('a row the server refuses for a data reason is refused alone: the rows around it are written and no episode starts', async () => {
    const id = 'server-refused-row';
    const reports: string[] = [];
    const persistence = open(id, reports);
    persistence.append({ type: 'test', n: 0, time: 0 });
    await persistence.flush();
    const clear = await refuseBadRowsOnTheServer(id);
    try {
      for (let n = 1; n < 200; n++) {
        const bad = n === 57 || n === 140;
        persistence.append({ type: bad ? 'bad' : 'test', n, time: n, ...(bad && { bad: 'x' }) });
      }
      await persistence.flush();
      expect(reports).toEqual(['record-refused:bad', 'record-refused:bad']);
      persistence.append({ type: 'test', n: 200, time: 200 });
      await persistence.close();
    } finally {
      await clear();
    }
    const kept = Array.from({ length: 201 }, (_, n) => n).filter((n) => n !== 57 && n !== 140);
    expect(await rows(id)).toEqual(kept.map((n, i) => [i + 1, n, n]));
    expect(reports).toEqual(['record-refused:bad', 'record-refused:bad']);
  });

  it('a server-refused row queued behind a rewrite is refused alone; a refused rewrite keeps the appends queued behind it', async () => {
    const id = 'rewrite-then-appends';
    const reports: string[] = [];
    const persistence = open(id, reports);
    persistence.append({ type: 'test', n: 0 });
    await persistence.flush();
    const clear = await refuseBadRowsOnTheServer(id);
    try {
      // One batch: a good rewrite, then appends of which one is refused.
      persistence.rewrite([{ type: 'test', n: 10 }]);
      for (let n = 11; n < 16; n++)
        persistence.append({ type: n === 13 ? 'bad' : 'test', n, ...(n === 13 && { bad: 'x' }) });
      await persistence.flush();
      expect((await rows(id)).map(([, n]) => n)).toEqual([10, 11, 12, 14, 15]);
      // One batch: a refused rewrite, then good appends, written on the old log.
      persistence.rewrite([{ type: 'cast', n: 20, bad: 'x' }]);
      persistence.append({ type: 'test', n: 16 });
      persistence.append({ type: 'test', n: 17 });
      await expect(persistence.flush()).rejects.toThrow(/was refused and the old log kept/);
      await persistence.flush();
    } finally {
      await clear();
    }
    await persistence.close();
    expect(reports).toEqual(['record-refused:bad', 'record-refused:RecordsWriteError']);
    expect(await rows(id)).toEqual(
      [10, 11, 12, 14, 15, 16, 17].map((n, i) => [i + 1, n, null] as [number, number, null]),
    );
  });

  it('a rewrite the store cannot hold is refused whole: the old log stays and later appends are written', async () => {
    const id = 'refused-rewrites';
    const reports: string[] = [];
    const persistence = open(id, reports);
    persistence.append({ type: 'test', n: 0 });
    await persistence.flush();
    persistence.rewrite([
      { type: 'test', n: 100 },
      { type: 'lone', n: 101, text: '\udbff' },
    ]);
    await expect(persistence.flush()).rejects.toThrow(/was refused and the old log kept/);
    const clear = await refuseBadRowsOnTheServer(id);
    try {
      persistence.rewrite([
        { type: 'test', n: 100 },
        { type: 'cast', n: 101, bad: 'x' },
      ]);
      await expect(persistence.flush()).rejects.toThrow(/was refused and the old log kept/);
    } finally {
      await clear();
    }
    persistence.append({ type: 'test', n: 1 });
    await persistence.close();
    // Which record of a rewrite the server refused is not known: the report names no type.
    expect(reports).toEqual(['record-refused:lone', 'record-refused:RecordsWriteError']);
    expect((await rows(id)).map(([seq, n]) => [seq, n])).toEqual([
      [1, 0],
      [2, 1],
    ]);
  });
});
