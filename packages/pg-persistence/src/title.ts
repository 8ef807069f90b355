/** A title handed to the writer with a batch: the newest one set, and how many calls it settles. */
export interface TakenTitle {
  value: string;
  operations: number;
}

/**
 * The session title set with `setTitle` and not written yet. Only the newest matters (it is one
 * column of the sessions row), but each call is one operation of the writer loop, so that a
 * `flush()` after it waits for it: the calls a written title settles are counted together.
 */
export class PendingTitle {
  #value: string | null = null;
  #operations = 0;

  set(title: string): void {
    this.#value = title;
    this.#operations++;
  }

  get queued(): boolean {
    return this.#value !== null;
  }

  /** Hands the writer the newest title (null when none is queued). */
  take(): TakenTitle | null {
    if (this.#value === null) return null;
    const taken = { value: this.#value, operations: this.#operations };
    this.#value = null;
    this.#operations = 0;
    return taken;
  }

  /** The batch holding `taken` failed: it is queued again, unless a newer title replaced it. */
  putBack(taken: TakenTitle | null): void {
    if (taken === null) return;
    this.#value ??= taken.value;
    this.#operations += taken.operations;
  }

  /** Forgets the queued title (a writer refused for good keeps nothing to write). */
  clear(): void {
    this.#value = null;
    this.#operations = 0;
  }
}
