import { describe, expect, it } from 'vitest';
import { WriterLoop } from './writer-loop.js';

/** Lets queued promise callbacks run (no timers: each step is a microtask turn). */
async function turns(n = 20): Promise<void> {
  for (let i = 0; i < n; i++) await Promise.resolve();
}

describe('WriterLoop.wake', () => {
  it('starts a run with nothing outstanding (schedule would not), on a later microtask', async () => {
    let runs = 0;
    const loop = new WriterLoop(
      () => {},
      async () => {
        runs++;
      },
    );
    loop.wake();
    expect(runs).toBe(0); // never on the caller's stack
    await turns();
    expect(runs).toBe(1);
  });

  it('asked for during a run, runs once more after it, even with nothing outstanding', async () => {
    let runs = 0;
    let release!: () => void;
    const loop = new WriterLoop(
      () => {},
      async () => {
        runs++;
        if (runs === 1) await new Promise<void>((resolve) => (release = resolve));
      },
    );
    loop.wake();
    await turns();
    expect(runs).toBe(1);
    loop.wake();
    loop.wake(); // one more run, not two
    release();
    await turns();
    expect(runs).toBe(2);
    await turns();
    expect(runs).toBe(2);
  });

  it('does nothing while a failure is latched: the flush that retries runs the writer', async () => {
    let runs = 0;
    const loop = new WriterLoop(
      () => {},
      async () => {
        runs++;
      },
    );
    loop.enqueue(1);
    loop.fail(new Error('EIO'), (cause) => cause.message);
    loop.wake();
    await turns();
    expect(runs).toBe(0);
    const flushed = loop.waitForAll();
    await turns();
    expect(runs).toBe(1);
    loop.complete(1);
    await flushed;
  });
});
