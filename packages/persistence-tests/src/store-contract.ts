// The store-level suite: open / list / delete as every backend's store has them (DESIGN
// "Sessions", "Session summaries"), as examples and as a small model.
import {
  type AgentRecordEnvelope,
  type AgentRecordStore,
  RecordsInvalidSessionIdError,
  type SessionSummary,
} from '@agent-records/types';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { capabilitiesOf, type PersistenceCapability, registerClaimTest } from './capabilities.js';
import { registerStoreModel } from './store-model.js';
import {
  type AnyStore,
  allPages,
  comparable,
  jsonLinesBytes,
  openOn,
  orderProblem,
} from './store-summary.js';

/** One empty store for one test (or one model sequence), as a backend under test provides it. */
export interface StoreContractSubject {
  /** The store: `open(id)`, `list(options?)`, `delete(id)`; any backend's store fits. */
  store: AgentRecordStore<unknown, SessionSummary>;
  /** Removes whatever the subject created. */
  cleanup?(): void | Promise<void>;
}

export interface StoreContractOptions {
  /**
   * `bytes` is the log's size as JSON Lines in UTF-8 (each record's JSON and a newline): checked
   * exactly (default). `false` for a store that keeps its logs another way: then `bytes` must
   * only grow with appends and be positive for a log with records.
   */
  exactBytes?: boolean;
  /** Random sequences in the model (default 20); `AGENT_RECORDS_MODEL_RUNS` overrides it. */
  runs?: number;
  /** Longest model sequence (default 15). */
  maxCommands?: number;
  /** fast-check seed (default: `AGENT_RECORDS_MODEL_SEED`, else random). */
  seed?: number;
  /** Per-test timeout of the model, in ms (default 600,000, scaled up for a full run). */
  timeout?: number;
  /**
   * The store lets one persistence write a session at a time (fs's lock, pg's fence, memory):
   * checks that a second one writing at once is refused with `RecordsLockedError` or
   * `RecordsConflictError` and never interleaved (default false: the persistence contract
   * itself does not ask for it).
   */
  singleWriter?: boolean;
  /** The capabilities the store's persistences claim (`title`, `snapshots` are used here). */
  expectCapabilities?: readonly PersistenceCapability[];
}

type Rec = AgentRecordEnvelope & { n?: number; text?: string };
const numbered = (count: number, start = 0): Rec[] =>
  Array.from({ length: count }, (_, i) => ({ type: 'test.store', n: start + i, text: 'é😀' }));

async function write(store: AnyStore, id: string, records: readonly Rec[], title?: string) {
  const persistence = openOn(store, id);
  for (const record of records) persistence.append(record);
  if (title !== undefined) persistence.setTitle?.(title);
  await persistence.close();
}

/**
 * Registers the store tests (vitest) for one backend: `list()` summaries (createdAt, updatedAt,
 * records, bytes, title), their order (newest write first, then id) and paging (`limit`,
 * `after`), `delete()`, refused session ids, and a model of random writes, rewrites, titles and
 * deletes checked against `list()`. `factory` is called per test and returns an empty store.
 */
export function describeStoreContract(
  name: string,
  factory: () => StoreContractSubject | Promise<StoreContractSubject>,
  options: StoreContractOptions = {},
): void {
  const exactBytes = options.exactBytes ?? true;

  describe(`store contract: ${name}`, async () => {
    const probe = await factory();
    const probed = openOn(probe.store, 'capability-probe');
    const found = capabilitiesOf(probed);
    await probed.close().catch(() => {});
    await probe.cleanup?.();
    const capabilities = new Set([...found, ...(options.expectCapabilities ?? [])]);
    registerClaimTest(found, options.expectCapabilities);

    let subject: StoreContractSubject;
    beforeEach(async () => {
      subject = await factory();
    });
    afterEach(async () => {
      await subject.cleanup?.();
    });

    it('lists nothing for an empty store', async () => {
      expect(await subject.store.list()).toEqual([]);
      expect(await subject.store.list({ limit: 10 })).toEqual([]);
    });

    it('lists a written session: createdAt from its metadata record, updatedAt, records, bytes', async () => {
      const metadata = { type: 'metadata', protocol_version: '1.0', created_at: 1_700_000_000_123 };
      const records = [metadata, ...numbered(2)];
      const before = Date.now();
      await write(subject.store, 'session-1', records);
      const after = Date.now();
      const [summary, ...rest] = await subject.store.list();
      expect(rest).toEqual([]);
      expect(summary).toMatchObject({ id: 'session-1', createdAt: 1_700_000_000_123, records: 3 });
      expect(summary?.title).toBeUndefined();
      expect(summary?.lockedBy).toBeUndefined(); // closed: nobody holds it
      // Epoch ms of the last write (a second of slack for a file system's clock granularity).
      expect(summary?.updatedAt).toBeGreaterThanOrEqual(before - 1_000);
      expect(summary?.updatedAt).toBeLessThanOrEqual(after + 1_000);
      if (exactBytes) expect(summary?.bytes).toBe(jsonLinesBytes(records));
      else expect(summary?.bytes).toBeGreaterThan(0);
    });

    it('without a metadata record, createdAt is still a time', async () => {
      await write(subject.store, 'plain', numbered(1));
      const [summary] = await subject.store.list();
      expect(Number.isFinite(summary?.createdAt)).toBe(true);
    });

    it('a rewrite sets records and bytes to the new log', async () => {
      await write(subject.store, 's', numbered(5));
      const persistence = openOn(subject.store, 's');
      persistence.rewrite(numbered(2, 100));
      await persistence.close();
      const [summary] = await subject.store.list();
      expect(summary?.records).toBe(2);
      if (exactBytes) expect(summary?.bytes).toBe(jsonLinesBytes(numbered(2, 100)));
    });

    if (capabilities.has('title')) {
      it('shows the title set with setTitle; a later one replaces it', async () => {
        await write(subject.store, 's', numbered(1), 'First title');
        expect((await subject.store.list())[0]?.title).toBe('First title');
        await write(subject.store, 's', [], 'Second — 😀');
        expect((await subject.store.list())[0]?.title).toBe('Second — 😀');
      });

      it('lists a session that has only a title (no records yet), and deletes it', async () => {
        await write(subject.store, 'titled', [], 'Only a title');
        const [summary, ...rest] = await subject.store.list();
        expect(rest).toEqual([]);
        expect(summary).toMatchObject({ id: 'titled', records: 0, title: 'Only a title' });
        if (exactBytes) expect(summary?.bytes).toBe(0);
        expect(Number.isFinite(summary?.createdAt)).toBe(true);
        expect(Number.isFinite(summary?.updatedAt)).toBe(true);
        expect(await subject.store.delete('titled')).toBe(true);
        expect(await subject.store.list()).toEqual([]);
      });
    }

    it('sorts by last write, newest first, then id; pages with limit and after', async () => {
      for (const id of ['b', 'a', 'c']) await write(subject.store, id, numbered(1));
      await write(subject.store, 'b', numbered(1, 1)); // b is the newest write now
      const list = await subject.store.list();
      expect(list.map((s) => s.id).sort()).toEqual(['a', 'b', 'c']);
      expect(orderProblem(list)).toBeNull();
      const at = (id: string) => list.find((s) => s.id === id)?.updatedAt as number;
      // Written in the order a, c, then b again: never listed as older than an earlier write.
      expect(at('b')).toBeGreaterThanOrEqual(at('c'));
      expect(at('c')).toBeGreaterThanOrEqual(at('a'));
      for (const limit of [1, 2]) {
        const pages = await allPages(subject.store, limit);
        expect(pages.flat().map(comparable)).toEqual(list.map(comparable));
      }
      expect(await subject.store.list({ limit: 0 })).toEqual([]);
    });

    it('delete removes the session and what is kept beside it; false when there is none', async () => {
      const persistence = openOn(subject.store, 'gone');
      for (const record of numbered(2)) persistence.append(record);
      persistence.writeSnapshot?.({ records: 2, data: 'state' });
      persistence.setTitle?.('title');
      await persistence.close();
      await write(subject.store, 'kept', numbered(1));
      expect(await subject.store.delete('gone')).toBe(true);
      expect((await subject.store.list()).map((s: SessionSummary) => s.id)).toEqual(['kept']);
      expect(await subject.store.delete('gone')).toBe(false);
      expect(await subject.store.delete('never-written')).toBe(false);
      const reopened = openOn(subject.store, 'gone');
      const records: unknown[] = [];
      for await (const record of reopened.read()) records.push(record);
      expect(records).toEqual([]);
      if (capabilities.has('snapshots')) expect(await reopened.readSnapshot?.()).toBeNull();
      await reopened.close();
    });

    it.runIf(options.singleWriter === true)(
      'one writer per session: a second writing at once is refused (locked or fenced), never interleaved',
      async () => {
        await write(subject.store, 'shared', numbered(1));
        const first = openOn(subject.store, 'shared');
        const second = openOn(subject.store, 'shared');
        for (const persistence of [first, second]) {
          const records: unknown[] = [];
          for await (const record of persistence.read()) records.push(record);
          expect(records).toHaveLength(1); // both resumed the same log
        }
        first.append(numbered(1, 10)[0] as Rec);
        await first.flush();
        second.append(numbered(1, 20)[0] as Rec);
        const refused = await second.flush().then(
          () => null,
          (error: { code?: unknown }) => error.code,
        );
        expect(['RECORDS_LOCKED', 'RECORDS_CONFLICT']).toContain(refused);
        await expect(second.close()).rejects.toMatchObject({ code: refused });
        first.append(numbered(1, 11)[0] as Rec);
        await first.close();
        const reader = openOn(subject.store, 'shared');
        const log: unknown[] = [];
        for await (const record of reader.read()) log.push(record);
        await reader.close();
        expect(log.map((r) => (r as Rec).n)).toEqual([0, 10, 11]);
      },
    );

    it('refuses an invalid session id at open() with RecordsInvalidSessionIdError', () => {
      for (const id of ['', '../escape', 'a/b', 'a\\b', '.hidden', 'nul\u0000']) {
        expect(() => subject.store.open(id)).toThrow(RecordsInvalidSessionIdError);
      }
    });

    registerStoreModel(factory, { ...options, exactBytes }, capabilities);
  });
}
