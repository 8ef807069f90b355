import { asError, messageOf, serializeRecord } from '@agent-records/backend-kit';
import {
  type AgentRecordEnvelope,
  type AgentRecordPersistence,
  type LegacyAgentRecordPersistence,
  RecordsClosedError,
  type RecordsErrorHandler,
  RecordsWriteError,
} from '@agent-records/types';

const LEGACY_ADAPTER = Symbol.for('@agent-records/legacy-adapter');

export interface ToPersistenceOptions {
  /** Receives the start (once) and the end of each failure episode. */
  onError?: RecordsErrorHandler;
}

/** True when `persistence` follows the previous contract: no `rewrite`. */
export function isLegacyPersistence<R extends AgentRecordEnvelope>(
  persistence: AgentRecordPersistence<R> | LegacyAgentRecordPersistence<R>,
): persistence is LegacyAgentRecordPersistence<R> {
  return typeof (persistence as Partial<AgentRecordPersistence<R>>).rewrite !== 'function';
}

/** True when `persistence` can replace its log, so a migrating replay can rewrite it. */
export function canRewrite<R extends AgentRecordEnvelope>(
  persistence: AgentRecordPersistence<R> | LegacyAgentRecordPersistence<R>,
): boolean {
  return !isLegacyPersistence(persistence) && !(LEGACY_ADAPTER in persistence);
}

/**
 * Wraps a persistence written against the previous contract (an async `append`, no `rewrite`)
 * so that it honours the current one: `append` returns at once, records are handed to the old
 * `append` one at a time in order, a rejected append is a failure episode (reported once,
 * `flush()` rejects and retries from the failed record). `rewrite` is not available: it throws,
 * and `AgentRecords` replays a migrating log in memory instead. A persistence that already
 * follows the current contract is returned unchanged.
 */
export function toPersistence<R extends AgentRecordEnvelope>(
  persistence: AgentRecordPersistence<R> | LegacyAgentRecordPersistence<R>,
  options: ToPersistenceOptions = {},
): AgentRecordPersistence<R> {
  if (!isLegacyPersistence(persistence)) return persistence;
  return new LegacyPersistenceAdapter(persistence, options.onError);
}

class LegacyPersistenceAdapter<R extends AgentRecordEnvelope> implements AgentRecordPersistence<R> {
  readonly [LEGACY_ADAPTER] = true;
  readonly #legacy: LegacyAgentRecordPersistence<R>;
  readonly #onError: RecordsErrorHandler | undefined;
  #queue: R[] = [];
  #pump: Promise<void> | null = null;
  #failure: { error: unknown } | null = null;
  #episode: unknown = null;
  #closed = false;
  #closedDownstream = false;

  constructor(legacy: LegacyAgentRecordPersistence<R>, onError: RecordsErrorHandler | undefined) {
    this.#legacy = legacy;
    this.#onError = onError;
  }

  append(record: R): void {
    if (this.#closed) throw new RecordsClosedError();
    this.#queue.push(JSON.parse(serializeRecord(record)) as R);
    if (!this.#failure) this.#startPump();
  }

  rewrite(_records: readonly R[]): void {
    throw new RecordsWriteError(
      'This persistence follows the previous contract (async append, no rewrite) and cannot ' +
        'replace its log. Implement rewrite() to let migrations rewrite old logs.',
    );
  }

  async flush(): Promise<void> {
    if (this.#failure) {
      this.#failure = null;
      this.#startPump();
    }
    await this.#settled();
    if (this.#failure) {
      const { error } = this.#failure;
      throw new RecordsWriteError(
        `The persistence's append failed (${messageOf(error)}); ${this.#queue.length} records ` +
          'stay queued and are retried on the next flush().',
        { cause: error },
      );
    }
    await this.#legacy.flush?.();
    if (this.#episode !== null) {
      const ended = this.#episode;
      this.#episode = null;
      this.#onError?.(asError(ended), { kind: 'write-recovered' });
    }
  }

  async close(): Promise<void> {
    this.#closed = true;
    await this.flush();
    if (!this.#closedDownstream) {
      this.#closedDownstream = true;
      await this.#legacy.close?.();
    }
  }

  async *read(): AsyncIterable<R> {
    await this.#settled();
    const unwritten = [...this.#queue];
    const source = await this.#legacy.read();
    for await (const record of source as AsyncIterable<R>) yield record;
    for (const record of unwritten) yield JSON.parse(JSON.stringify(record)) as R;
  }

  #startPump(): void {
    if (this.#pump) return;
    // Starts on a later microtask: the old append may do I/O synchronously before it awaits.
    this.#pump = Promise.resolve()
      .then(() => this.#drain())
      .finally(() => {
        this.#pump = null;
      });
  }

  async #drain(): Promise<void> {
    while (this.#queue.length > 0 && !this.#failure) {
      try {
        await this.#legacy.append(this.#queue[0] as R);
        this.#queue.shift();
      } catch (error) {
        this.#failure = { error };
        if (this.#episode === null) {
          this.#episode = error;
          this.#onError?.(asError(error), { kind: 'write-failed' });
        }
      }
    }
  }

  async #settled(): Promise<void> {
    while (this.#pump) await this.#pump;
  }
}
