// What a store's list() must say about the sessions a test wrote: the expected summary of each
// log, and the checks of order and paging shared by the store examples and the store model.
import type {
  AgentRecordEnvelope,
  AgentRecordPersistence,
  AgentRecordStore,
  SessionSummary,
} from '@agent-records/types';

export type Persistence = AgentRecordPersistence<AgentRecordEnvelope>;
export type AnyStore = AgentRecordStore<unknown, SessionSummary>;

/** A store's `open`, typed as the persistence every store's sessions are. */
export const openOn = (store: AnyStore, id: string): Persistence => store.open(id) as Persistence;

/** The size of a log of `records` as JSON Lines in UTF-8: each record's JSON and a newline. */
export function jsonLinesBytes(records: readonly unknown[]): number {
  let bytes = 0;
  for (const record of records) bytes += Buffer.byteLength(`${JSON.stringify(record)}\n`, 'utf8');
  return bytes;
}

/** The `created_at` of a log's first record when it is a metadata record, else undefined. */
export function metadataCreatedAt(records: readonly unknown[]): number | undefined {
  const first = records[0] as { type?: unknown; created_at?: unknown } | undefined;
  return first?.type === 'metadata' && typeof first.created_at === 'number'
    ? first.created_at
    : undefined;
}

/** Newest `updatedAt` first, then `id` ascending: the order `list()` gives. */
export function inListOrder(a: SessionSummary, b: SessionSummary): boolean {
  return a.updatedAt > b.updatedAt || (a.updatedAt === b.updatedAt && a.id < b.id);
}

/** Why `list` is not in the order of last activity, or null. */
export function orderProblem(list: readonly SessionSummary[]): string | null {
  for (let i = 1; i < list.length; i++) {
    const a = list[i - 1] as SessionSummary;
    const b = list[i] as SessionSummary;
    if (!inListOrder(a, b)) {
      return `${a.id} (updatedAt ${a.updatedAt}) is listed before ${b.id} (updatedAt ${b.updatedAt}): newest first, then by id`;
    }
  }
  return null;
}

/** Every page of `limit` sessions, each after the last of the previous one, until an empty one. */
export async function allPages(store: AnyStore, limit: number): Promise<SessionSummary[][]> {
  const pages: SessionSummary[][] = [];
  let after: SessionSummary | undefined;
  for (let guard = 0; guard < 10_000; guard++) {
    const page = await store.list({ limit, ...(after && { after }) });
    if (page.length > limit) throw new Error(`list({ limit: ${limit} }) gave ${page.length}`);
    if (page.length === 0) return pages;
    pages.push(page);
    after = page.at(-1);
  }
  throw new Error('list() paging never ended');
}

/** The fields of a summary the suites compare (lockedBy must be absent: nothing is open). */
export function comparable(summary: SessionSummary) {
  return {
    id: summary.id,
    createdAt: summary.createdAt,
    updatedAt: summary.updatedAt,
    records: summary.records,
    bytes: summary.bytes,
    title: summary.title,
    lockedBy: summary.lockedBy,
  };
}
