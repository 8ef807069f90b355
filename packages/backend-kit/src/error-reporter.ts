import type { RecordsErrorHandler, RecordsErrorInfo } from '@agent-records/types';

/** What a backend does with a report nobody asked for: print one line to stderr. */
export const printToStderr: RecordsErrorHandler = (error, info) => {
  console.error(`[agent-records] ${info.kind}: ${error.message}`);
};

export interface ErrorReporterOptions {
  /**
   * The backend's own `onError` option, as the host gave it. It hears every report, whether or
   * not a handler is subscribed through {@link ErrorReporter.setErrorHandler}.
   */
  onError?: RecordsErrorHandler;
  /**
   * Who hears a report when neither `onError` was given nor a handler is subscribed
   * (default {@link printToStderr}). A subscribed handler replaces it.
   */
  fallback?: RecordsErrorHandler;
}

/**
 * Where a backend sends what it reports (write failures, their end, a refused writer, refused
 * records, warnings such as a torn tail cut off or a missing blob), in one guarded place:
 * {@link report} never throws, whatever a handler does, so a report can never break a
 * background write.
 *
 * It also implements the error-handler capability of `AgentRecordPersistence`
 * (`setErrorHandler`): `AgentRecords` subscribes its own `onError` in its constructor, so a host
 * passes one handler and hears everything about the session. Who hears a report:
 * - the backend's own `onError` option, when given (hosts that use the backend without the core
 *   keep it working);
 * - the subscribed handler, when one is set;
 * - the `fallback` (stderr by default) only when neither of those is there.
 *
 * So when a host gives both (an `onError` to the backend and one to the core), both hear each
 * report, the backend's first. A backend forwards its `setErrorHandler` here:
 *
 * ```ts
 * readonly #errors = new ErrorReporter({ onError: options.onError });
 * setErrorHandler(handler: RecordsErrorHandler | null): void {
 *   this.#errors.setErrorHandler(handler);
 * }
 * ```
 */
export class ErrorReporter {
  readonly #own: RecordsErrorHandler | undefined;
  readonly #fallback: RecordsErrorHandler;
  #subscribed: RecordsErrorHandler | null = null;

  constructor(options: ErrorReporterOptions = {}) {
    this.#own = options.onError;
    this.#fallback = options.fallback ?? printToStderr;
  }

  /**
   * The capability: `handler` hears every later report (it replaces the fallback printer; the
   * backend's own `onError` keeps hearing too); `null` unsubscribes. One handler at a time: a
   * second call replaces the first.
   */
  setErrorHandler(handler: RecordsErrorHandler | null): void {
    this.#subscribed = handler;
  }

  /** The handler subscribed through {@link setErrorHandler}, if any. */
  get subscribed(): RecordsErrorHandler | null {
    return this.#subscribed;
  }

  /** Hands `error` to whoever should hear it; a handler that throws is ignored, never raised. */
  report(error: Error, info: RecordsErrorInfo): void {
    const own = this.#own;
    const subscribed = this.#subscribed;
    if (own) call(own, error, info);
    if (subscribed) call(subscribed, error, info);
    if (!own && !subscribed) call(this.#fallback, error, info);
  }
}

function call(handler: RecordsErrorHandler, error: Error, info: RecordsErrorInfo): void {
  try {
    handler(error, info);
  } catch {
    // ignored on purpose: a report must never stop the writer that made it
  }
}

/** The message of anything thrown: an Error's `message`, else the value as text. */
export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Anything thrown, as an Error (a non-Error value becomes an Error with it as its message). */
export function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}
