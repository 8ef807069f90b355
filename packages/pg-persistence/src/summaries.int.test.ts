import type { AgentRecordEnvelope } from '@agent-records/types';
import { afterAll, describe, expect, it } from 'vitest';
import { available, dropSchema, generationOf, newPool, schemaName } from '../test/database.js';
import { PostgresAgentRecordStore } from './store.js';

type Rec = AgentRecordEnvelope & { text?: string };
const schema = schemaName();
const pool = newPool({ max: 6 });
const store = new PostgresAgentRecordStore({ pool, schema });
afterAll(async () => {
  await pool.end();
  if (available) await dropSchema(schema);
});

/** What a record adds to `bytes`: its JSON line and a newline, in UTF-8. */
const bytesOf = (records: Rec[]) =>
  records.reduce((sum, record) => sum + Buffer.byteLength(JSON.stringify(record)) + 1, 0);

async function summaryOf(id: string) {
  return (await store.list()).find((summary) => summary.id === id);
}

describe.skipIf(!available)('session summaries', () => {
  it('records, bytes and title follow appends, a rewrite and setTitle', async () => {
    await store.ensureSchema();
    const persistence = store.open<Rec>('summed');
    const first: Rec[] = [{ type: 'metadata' }, { type: 'turn.prompt', text: 'héllo ✓ 😀' }];
    for (const record of first) persistence.append(record);
    persistence.setTitle('Fix the build');
    await persistence.flush();
    const afterAppends = await summaryOf('summed');
    expect(afterAppends).toMatchObject({
      id: 'summed',
      records: 2,
      bytes: bytesOf(first),
      title: 'Fix the build',
      generation: await generationOf(pool, schema, 'summed'),
    });
    expect(afterAppends?.updatedAt).toBeGreaterThanOrEqual(afterAppends?.createdAt as number);
    expect(afterAppends?.modifiedAt).toBe(afterAppends?.updatedAt);

    const second: Rec[] = [{ type: 'turn.steer', text: 'x'.repeat(300) }];
    persistence.append(second[0] as Rec);
    await persistence.flush();
    expect(await summaryOf('summed')).toMatchObject({
      records: 3,
      bytes: bytesOf([...first, ...second]),
      title: 'Fix the build',
    });

    // A rewrite replaces the log: records and bytes start again; the title stays.
    const rewritten: Rec[] = [{ type: 'metadata' }, { type: 'compacted', text: 'short' }];
    persistence.rewrite(rewritten);
    persistence.setTitle('Renamed');
    persistence.setTitle('Renamed again\u0000');
    await persistence.close();
    expect(await summaryOf('summed')).toMatchObject({
      records: 2,
      bytes: bytesOf(rewritten),
      title: 'Renamed again\ufffd',
    });
    // The rewrite took a new generation (from the sequence: never one used before).
    expect((await summaryOf('summed'))?.generation).toBeGreaterThan(
      afterAppends?.generation as number,
    );
  });

  it('a title alone is written without any record, and flush() waits for it', async () => {
    const persistence = store.open<Rec>('title-only');
    persistence.setTitle('Just a title');
    await persistence.flush();
    expect(await summaryOf('title-only')).toMatchObject({
      records: 0,
      bytes: 0,
      title: 'Just a title',
    });
    // updatedAt is the last write to the log: a later title alone leaves it.
    persistence.append({ type: 'metadata' });
    await persistence.flush();
    const written = (await summaryOf('title-only'))?.updatedAt as number;
    await pool.query(
      `UPDATE "${schema}".agent_records_sessions SET updated_at = updated_at - interval '1 hour' WHERE session_id = 'title-only'`,
    );
    persistence.setTitle('Renamed');
    await persistence.flush();
    expect(await summaryOf('title-only')).toMatchObject({
      title: 'Renamed',
      updatedAt: written - 3_600_000,
      records: 1,
    });
    await persistence.close();
  });

  it('lists by last activity, newest first, then id; pages with limit and after; delete removes the session', async () => {
    const ids = ['p-a', 'p-b', 'p-c', 'p-d', 'p-e'];
    for (const id of ids) {
      const persistence = store.open<Rec>(id);
      persistence.append({ type: 'metadata' });
      await persistence.close();
    }
    // Same activity time for two of them: the id decides.
    await pool.query(
      `UPDATE "${schema}".agent_records_sessions SET updated_at = '2026-01-01T00:00:00.123Z' WHERE session_id IN ('p-b', 'p-d')`,
    );
    const touched = store.open<Rec>('p-a');
    for await (const _ of touched.readFrom(null)); // a replay: learns the head
    touched.append({ type: 'turn.prompt' });
    await touched.close();

    const all = (await store.list()).filter((summary) => summary.id.startsWith('p-'));
    expect(all.map((summary) => summary.id)).toEqual(['p-a', 'p-e', 'p-c', 'p-b', 'p-d']);
    for (let i = 1; i < all.length; i++) {
      expect(all[i - 1]?.updatedAt).toBeGreaterThanOrEqual(all[i]?.updatedAt as number);
    }

    // Two pages, whatever else the schema holds: the second starts after the first's last.
    const everything = await store.list();
    const cut = everything.findIndex((summary) => summary.id === 'p-b');
    const page1 = await store.list({ limit: cut + 1 });
    expect(page1.at(-1)?.id).toBe('p-b');
    const page2 = await store.list({ limit: 100, after: page1.at(-1) as (typeof page1)[0] });
    expect(page2[0]?.id).toBe('p-d');
    expect([...page1, ...page2]).toEqual(everything);
    expect(await store.list({ limit: 0 })).toEqual([]);
    await expect(store.list({ limit: -1 })).rejects.toThrow(/integer >= 0/);

    expect(await store.delete('p-c')).toBe(true);
    expect((await store.list()).map((summary) => summary.id)).not.toContain('p-c');
    expect(await store.delete('p-c')).toBe(false);
  });
});
