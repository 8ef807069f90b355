/**
 * Polls `check` until it returns a value other than undefined, or fails after `timeoutMs` with
 * what `describe` says about the last state. For background work (the summary file): never a
 * fixed sleep.
 */
export async function pollUntil<T>(
  check: () => Promise<T | undefined> | T | undefined,
  describe: () => string,
  timeoutMs = 5000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`gave up after ${timeoutMs} ms: ${describe()}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
