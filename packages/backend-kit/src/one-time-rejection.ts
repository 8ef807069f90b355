/**
 * An error the next `flush()` owes the host, once: a rewrite the store refused (its record could
 * not be stored, the old log kept). Latched when the refusal happens; the next flush that gets
 * that far (everything before it written) rejects with it, and later flushes resolve.
 * `WriterLoop.latchRefusal` keeps one for a backend on the loop; a backend without the loop (the
 * in-memory one) holds its own.
 */
export class OneTimeRejection {
  #error: Error | null = null;

  /** Latches `error` for the next flush (a newer refusal replaces an unreported older one). */
  latch(error: Error): void {
    this.#error = error;
  }

  /** The latched error, not yet delivered. */
  get latched(): Error | null {
    return this.#error;
  }

  /** Throws the latched error and forgets it: it is delivered once. */
  throwIfLatched(): void {
    const error = this.#error;
    if (error === null) return;
    this.#error = null;
    throw error;
  }
}

/**
 * What `close()` does first: awaits `work` (its last flush) without throwing, so the backend can
 * release what it holds whatever the flush said, then rethrow: `null` when it resolved, else
 * `{ error }` with its reason.
 */
export async function failureOf(work: Promise<unknown>): Promise<{ error: unknown } | null> {
  try {
    await work;
    return null;
  } catch (error) {
    return { error };
  }
}
