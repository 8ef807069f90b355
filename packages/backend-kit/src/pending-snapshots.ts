import type { RecordsPosition, SnapshotToWrite } from '@agent-records/types';
import { asError, type ErrorReporter } from './error-reporter.js';

/** A snapshot ready to store: its records durable, its data made, its position known. */
export interface ReadySnapshot {
  /** `records` as given to `writeSnapshot`. */
  readonly records: number;
  /** The data, resolved. */
  readonly data: string;
  /** Size of `data` in UTF-8 bytes. */
  readonly bytes: number;
  /** The store's position right after the records it covers (what `readSnapshot` gives back). */
  readonly position: RecordsPosition;
}

export interface PendingSnapshotsOptions {
  /** Where each dropped snapshot is reported, as a `warning`. */
  errors: ErrorReporter;
  /**
   * Stores `snapshot` atomically (the previous one or this one, never a torn one), replacing the
   * one stored before. Called one at a time, never for an older snapshot after a newer one. A
   * rejection drops it (reported as a `warning`); it never starts a failure episode.
   */
  write: (snapshot: ReadySnapshot) => Promise<void>;
  /** Names the log in warnings: `the log /data/s1.jsonl`, `session s1`. */
  log?: string;
}

interface Request {
  readonly mark: number;
  readonly records: number;
  data: string | null;
  position: RecordsPosition | null;
  /** Written, dropped or superseded; `finish` is then a no-op. */
  done: boolean;
  readonly finished: Promise<void>;
  readonly finish: () => void;
}

/**
 * The snapshots a backend was asked to write (`writeSnapshot`), queued in order with its
 * appends, so that every backend decides the same cases the same way:
 *
 * - a snapshot covers every append and rewrite queued before the request: the backend gives
 *   each request a *mark* (`OperationQueue.mark()`, or its own counter), and its writer tells
 *   this class which marks its durable writes have reached, and at which position
 *   ({@link reached});
 * - the data may still be a promise: appends keep being written meanwhile; the snapshot is handed
 *   to the backend's `write` once both its records are durable and its data is made;
 * - only the newest counts: once a newer snapshot is ready, older ones are not written (a write
 *   never replaces a newer snapshot by an older one);
 * - a snapshot is dropped, reported as a `warning`, never an episode, when its data rejects,
 *   its write fails, or the backend {@link invalidate}s it (a rewrite queued after it, or refused);
 * - {@link settled} is what `flush()` awaits: every snapshot requested so far written or dropped.
 */
export class PendingSnapshots {
  readonly #options: PendingSnapshotsOptions;
  /** Requests not done, oldest first. */
  #requests: Request[] = [];
  #writing: Promise<void> | null = null;

  constructor(options: PendingSnapshotsOptions) {
    this.#options = options;
  }

  /**
   * Queues `snapshot` at `mark`, a number that grows with each request (`OperationQueue.mark()`
   * taken in `writeSnapshot`, after every append and rewrite queued so far). Returns at once;
   * never throws. The data is awaited in the background.
   */
  request(snapshot: SnapshotToWrite, mark: number): void {
    let finish!: () => void;
    const finished = new Promise<void>((resolve) => {
      finish = resolve;
    });
    const request: Request = {
      mark,
      records: snapshot.records,
      data: null,
      position: null,
      done: false,
      finished,
      finish,
    };
    this.#requests.push(request);
    const data = snapshot.data;
    if (typeof data === 'string') {
      request.data = data;
      return;
    }
    Promise.resolve(data).then(
      (text) => {
        if (request.done) return;
        if (typeof text !== 'string') {
          this.#drop(request, `its data is not a string but ${typeof text}`);
          return;
        }
        request.data = text;
        this.#pump();
      },
      (error: unknown) => {
        if (!request.done) this.#drop(request, 'its data could not be made', error);
      },
    );
  }

  /**
   * Drops `snapshot` at once, reported as a `warning` naming `reason`, for a request the backend
   * cannot queue (it is closed, or another writer holds the log). Its data, if a promise, is
   * observed: a rejection is not left unhandled.
   */
  refuse(snapshot: SnapshotToWrite, reason: string): void {
    if (typeof snapshot.data !== 'string') Promise.resolve(snapshot.data).catch(() => {});
    this.#report(snapshot.records, reason);
  }

  /**
   * True when a request at or before `mark` still waits for its position: the writer should call
   * {@link reached} (opening its log first, if it has to, to know its end).
   */
  needsPosition(mark: number): boolean {
    return this.#requests.some((request) => request.mark <= mark && request.position === null);
  }

  /**
   * The writer's report: everything queued before `mark` is durable and the store's end is
   * `position()`. Call it at the top of each writer turn, before taking the next batch, with
   * `queue.reachedMark` (the queue cuts batches at marks, so right after a batch the end is the
   * mark's place). `position` is called only when a request needs it, and must answer at once.
   */
  reached(mark: number, position: () => RecordsPosition): void {
    let at: RecordsPosition | null = null;
    for (const request of this.#requests) {
      if (request.mark > mark) break;
      if (request.position !== null) continue;
      at ??= position();
      request.position = at;
    }
    if (at !== null) this.#pump();
  }

  /**
   * Drops every snapshot requested so far and not yet being written, each reported as a
   * `warning` naming `reason`. Call it when the log will not be what they cover: a rewrite is
   * queued (`the log is rewritten`) or refused, or a record queued before them was refused by the
   * store. A write in progress finishes: before replacing the log, await {@link idle} and remove
   * the stored snapshot.
   */
  invalidate(reason: string): void {
    for (const request of this.#requests.slice()) this.#drop(request, reason);
  }

  /** Resolves once every snapshot requested so far is written or dropped. Never rejects. */
  settled(): Promise<void> {
    const waiting = this.#requests.map((request) => request.finished);
    const writing = this.#writing;
    if (writing) waiting.push(writing);
    return Promise.all(waiting).then(() => {});
  }

  /** Resolves when no snapshot is being written (before the log is replaced). Never rejects. */
  idle(): Promise<void> {
    return this.#writing ?? Promise.resolve();
  }

  /** Snapshots requested and not yet written or dropped (being written included). */
  get pending(): number {
    return this.#requests.length + (this.#writing ? 1 : 0);
  }

  /** Writes the newest ready snapshot, one at a time; older ones are superseded. */
  #pump(): void {
    if (this.#writing) return;
    let newest = -1;
    for (let i = 0; i < this.#requests.length; i++) {
      const request = this.#requests[i] as Request;
      if (request.data !== null && request.position !== null) newest = i;
    }
    if (newest < 0) return;
    // Older requests could only ever replace this newer one: they are done without a write.
    const superseded = this.#requests.splice(0, newest + 1);
    const request = superseded.pop() as Request;
    for (const older of superseded) this.#finish(older);
    const snapshot: ReadySnapshot = {
      records: request.records,
      data: request.data as string,
      // Native: a JavaScript count of a 20 MB state took 110-190 ms on the event loop.
      bytes: Buffer.byteLength(request.data as string, 'utf8'),
      position: request.position as RecordsPosition,
    };
    this.#writing = this.#write(snapshot).then(
      () => this.#finish(request),
      (error: unknown) => this.#drop(request, 'writing it failed', error),
    );
    this.#writing.finally(() => {
      this.#writing = null;
      this.#pump();
    });
  }

  /** Calls `write` off the caller's stack; one that throws synchronously rejects. */
  async #write(snapshot: ReadySnapshot): Promise<void> {
    await this.#options.write(snapshot);
  }

  #drop(request: Request, reason: string, error?: unknown): void {
    if (request.done) return;
    this.#report(request.records, reason, error);
    this.#finish(request);
  }

  #report(records: number, reason: string, error?: unknown): void {
    const cause = error === undefined ? '' : ` (${asError(error).message})`;
    const log = this.#options.log ? ` of ${this.#options.log}` : '';
    this.#options.errors.report(
      new Error(
        `The snapshot${log} covering ${records} records was dropped: ${reason}${cause}. ` +
          'Nothing in the log was lost; the next snapshot replaces it, and until then a resume ' +
          'replays from the previous snapshot or from the start.',
        error === undefined ? undefined : { cause: error },
      ),
      { kind: 'warning' },
    );
  }

  #finish(request: Request): void {
    if (request.done) return;
    request.done = true;
    const index = this.#requests.indexOf(request);
    if (index >= 0) this.#requests.splice(index, 1);
    request.finish();
  }
}
