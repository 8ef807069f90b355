// The plain in-memory model the random command sequences are checked against, and the handle on
// the real backend they drive.
import { isDeepStrictEqual } from 'node:util';
import type {
  AgentRecordEnvelope,
  AgentRecordPersistence,
  RecordsErrorInfo,
  RecordsPosition,
} from '@agent-records/types';
import type { PersistenceCapability } from './capabilities.js';
import type { InjectedWriteFault, PersistenceContractSubject } from './contract.js';
import type { StoreRefusals } from './model-records.js';

type Persistence = AgentRecordPersistence<AgentRecordEnvelope>;

/** One record the log must hold; `maybe` while the store may still refuse it (see StoreRefusals). */
export interface ExpectedRecord {
  value: unknown;
  maybe: boolean;
}

export class LogModel {
  /** What `read()` must yield, in order. */
  records: ExpectedRecord[] = [];
  nextId = 0;
  /** Mutations of objects the host appended earlier; the log must not see them. */
  readonly mutations: Array<() => void> = [];
  /** A write fault is switched on right now. */
  faulted = false;
  /** An episode may be latched: a fault was on and no flush has succeeded since. */
  mayBeLatched = false;
  /** A fault was injected at some point in this sequence. */
  everFaulted = false;
  /** Store-dependent records that were accepted and then turned out refused by the store. */
  refusedByStore = 0;
  /** The optional capabilities the backend offers (the capability commands run only then). */
  capabilities: ReadonlySet<PersistenceCapability> = new Set();
  /** Rewrites so far: positions and snapshots of an earlier log no longer hold. */
  rewrites = 0;
  /** Positions `readFrom` gave, with the records before them and the log they belong to. */
  positions: Array<{ position: RecordsPosition; count: number; rewrites: number }> = [];
  /** Snapshots asked for, by the id in their data: what they cover, of which log. */
  readonly snapshots = new Map<number, ModelSnapshot>();
  nextSnapshot = 1;
  /** The newest snapshot that must be stored once a flush resolves (no fault since), or null. */
  snapshotDue: number | null = null;
  /** A snapshot a resolved flush stored: `readSnapshot` must give it or a newer one. */
  snapshotStored: number | null = null;
  /** Snapshots whose data rejected and that were dropped: each is reported as a warning. */
  rejectedSnapshots = 0;
  /** The newest snapshot asked for rejects: once settled, it is one more warning. */
  unreportedRejection = false;

  /** True when no record's fate is still up to the store (positions can be counted). */
  get settled(): boolean {
    return this.records.every((record) => !record.maybe);
  }

  /** A rewrite: the log is another one from now on. */
  rewritten(): void {
    this.rewrites++;
    // A few positions of older logs stay, to be read from again: they must be refused.
    this.positions = this.positions.slice(-4);
    // Dropped by the rewrite, as a warning, if not by its data first: one warning either way.
    if (this.unreportedRejection) this.rejectedSnapshots++;
    this.unreportedRejection = false;
    this.snapshotDue = null;
    this.snapshotStored = null;
  }

  /** A flush (or close) resolved: the snapshot due is stored now. */
  flushed(): void {
    if (this.unreportedRejection) this.rejectedSnapshots++;
    this.unreportedRejection = false;
    if (this.snapshotDue !== null) this.snapshotStored = this.snapshotDue;
    this.snapshotDue = null;
  }
}

export interface ModelSnapshot {
  /** The records the log held before it was asked for. */
  covered: unknown[];
  /** `LogModel.rewrites` when it was asked for. */
  rewrites: number;
  /** Its data rejects: it must never be stored. */
  rejects: boolean;
}

export interface RealSystem {
  subject: PersistenceContractSubject;
  persistence: Persistence;
  reports: Array<{ error: Error; info: RecordsErrorInfo }>;
  fault?: InjectedWriteFault;
  refusals: StoreRefusals;
  drainDeadlineMs: number;
  open(): Persistence;
}

export async function readAll(persistence: Persistence, limit = Number.POSITIVE_INFINITY) {
  const out: unknown[] = [];
  for await (const record of persistence.read()) {
    if (out.length >= limit) break;
    out.push(record);
  }
  return out;
}

function show(value: unknown): string {
  let text: string;
  try {
    text = JSON.stringify(value) ?? String(value);
  } catch {
    text = String(value);
  }
  return text.length > 240 ? `${text.slice(0, 240)}... (${text.length} chars)` : text;
}

/** Why `actual` is not what the model expects, or null. Maybe-records may be there or not. */
export function mismatch(actual: readonly unknown[], expected: readonly ExpectedRecord[]) {
  let i = 0;
  for (const entry of expected) {
    if (i < actual.length && isDeepStrictEqual(actual[i], entry.value)) {
      i++;
      continue;
    }
    if (entry.maybe) continue;
    const got = i < actual.length ? show(actual[i]) : 'the end of the log';
    return `record ${i}: expected ${show(entry.value)}, got ${got} (${actual.length} read, ${expected.length} expected)`;
  }
  if (i < actual.length) return `record ${i} should not be there: ${show(actual[i])}`;
  return null;
}

/** `read()` of the live persistence equals the model. */
export async function checkRead(model: LogModel, real: RealSystem, after: string): Promise<void> {
  const problem = mismatch(await readAll(real.persistence), model.records);
  if (problem) throw new Error(`after ${after}, read() differs from the model: ${problem}`);
}

/** A fresh reader on the same log (what is in the store), or undefined if the subject has none. */
export async function readStore(real: RealSystem): Promise<unknown[] | undefined> {
  if (!real.subject.openReader) return undefined;
  const reader = real.subject.openReader();
  try {
    return await readAll(reader);
  } finally {
    await reader.close().catch(() => {});
  }
}

/** Polls a fresh reader until the store holds the model's records, up to the drain deadline. */
export async function awaitStore(model: LogModel, real: RealSystem, after: string) {
  if (!real.subject.openReader) return;
  const deadline = Date.now() + real.drainDeadlineMs;
  let problem: string | null = 'not read yet';
  let delay = 2;
  while (problem !== null) {
    problem = mismatch((await readStore(real)) ?? [], model.records);
    if (problem === null) return;
    if (Date.now() > deadline) {
      throw new Error(
        `after ${after}, a fresh reader still differs from the model ${real.drainDeadlineMs} ms later ` +
          `(queued writes must reach the store without a flush): ${problem}`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, delay));
    delay = Math.min(delay * 2, 100);
  }
}

/** A flush (or close) resolved: store-dependent records are decided, so settle them. */
export function settleMaybes(model: LogModel, actual: readonly unknown[]): void {
  const settled: ExpectedRecord[] = [];
  let i = 0;
  for (const entry of model.records) {
    const present = i < actual.length && isDeepStrictEqual(actual[i], entry.value);
    if (present) i++;
    if (!entry.maybe) settled.push(entry);
    else if (present) settled.push({ value: entry.value, maybe: false });
    else model.refusedByStore++;
  }
  model.records = settled;
}

/** The only write failures a backend may report are those of faults the sequence injected. */
export function checkReports(model: LogModel, real: RealSystem, after: string): void {
  const failed = real.reports.filter((r) => r.info.kind === 'write-failed');
  if (failed.length > 0 && !model.everFaulted) {
    throw new Error(
      `after ${after}, onError reported a write failure although no fault was injected: ${failed[0]?.error.message}`,
    );
  }
  const warnings = real.reports.filter((r) => r.info.kind === 'warning').length;
  if (warnings < model.rejectedSnapshots) {
    throw new Error(
      `after ${after}, ${model.rejectedSnapshots} snapshots whose data rejected were dropped but onError heard ${warnings} warnings (each drop is one)`,
    );
  }
  const refused = real.reports.filter((r) => r.info.kind === 'record-refused').length;
  if (refused < model.refusedByStore) {
    throw new Error(
      `after ${after}, ${model.refusedByStore} records the store refused were dropped but onError heard of ${refused} (each refusal is reported)`,
    );
  }
}

export function errorCode(error: unknown): string {
  return typeof error === 'object' && error !== null && 'code' in error
    ? String((error as { code: unknown }).code)
    : `a ${error instanceof Error ? error.name : typeof error} without a code (${String(error)})`;
}
