import {
  type RecordsErrorInfo,
  RecordsLockedError,
  RecordsOverflowError,
  RecordsWriteError,
} from '@agent-records/types';
import { describe, expect, it } from 'vitest';
import { WriterLoop } from './writer-loop.js';

function setup() {
  const reports: Array<[RecordsErrorInfo['kind'], Error]> = [];
  let starts = 0;
  const progress = new WriterLoop(
    (error, info) => reports.push([info.kind, error]),
    async () => {
      starts++;
    },
  );
  return { progress, reports, starts: () => starts };
}

describe('WriterLoop', () => {
  it('resolves a wait once everything queued before it is written, not what came after', async () => {
    const { progress, starts } = setup();
    await progress.waitForAll(); // nothing queued: resolves at once
    expect(starts()).toBe(0);
    progress.enqueue(3);
    let done = false;
    const wait = progress.waitForAll().then(() => {
      done = true;
    });
    await Promise.resolve();
    await Promise.resolve();
    expect(starts()).toBe(1); // the writer runs on a later microtask, once
    progress.enqueue(5); // after the wait: not its business
    progress.complete(2);
    await Promise.resolve();
    expect(done).toBe(false);
    progress.complete(1);
    await wait;
    expect(done).toBe(true);
    expect(progress.outstanding).toBe(5);
  });

  it('reports an episode once, rejects waits with the cause, retries on the next wait and reports the end', async () => {
    const { progress, reports } = setup();
    progress.enqueue(10);
    const first = progress.waitForAll();
    const cause = Object.assign(new Error('no space'), { code: 'ENOSPC' });
    progress.fail(cause, (c) => `failed: ${c.message}`);
    await expect(first).rejects.toMatchObject({ message: 'failed: no space', cause });
    await expect(first).rejects.toBeInstanceOf(RecordsWriteError);
    expect(progress.writable).toBe(false);
    const retry = progress.waitForAll(); // clears the latch: the retry
    expect(progress.writable).toBe(true);
    progress.fail(new Error('still full'), () => 'again');
    await expect(retry).rejects.toThrow('again');
    expect(reports.map(([kind]) => kind)).toEqual(['write-failed']);
    const third = progress.waitForAll();
    progress.complete(10);
    await third;
    expect(reports.map(([kind, error]) => [kind, error])).toEqual([
      ['write-failed', cause],
      ['write-recovered', cause],
    ]);
  });

  it('a refusal is final', async () => {
    const { progress, reports } = setup();
    progress.enqueue();
    const waiting = progress.waitForAll();
    const locked = new RecordsLockedError('held by pid 7');
    progress.refuse(locked);
    await expect(waiting).rejects.toBe(locked);
    await expect(progress.waitForAll()).rejects.toBe(locked);
    expect(progress.refusal).toBe(locked);
    expect(reports).toEqual([['write-failed', locked]]);
  });

  it('discarding superseded work settles waits without ending an episode', async () => {
    const { progress, reports } = setup();
    progress.enqueue(2);
    progress.fail(new Error('EIO'), () => 'failed');
    const wait = progress.waitForAll();
    progress.discard(2);
    await wait;
    expect(reports.map(([kind]) => kind)).toEqual(['write-failed']);
  });

  it('turns a writer that throws into an episode instead of an unhandled rejection', async () => {
    const reports: string[] = [];
    const progress = new WriterLoop(
      (_error, info) => reports.push(info.kind),
      async () => {
        throw new Error('bug in the writer');
      },
    );
    progress.enqueue();
    await expect(progress.waitForAll()).rejects.toThrow(
      'The writer failed unexpectedly: bug in the writer',
    );
    expect(reports).toEqual(['write-failed']);
  });

  it('survives a throwing error handler', () => {
    const progress = new WriterLoop(
      () => {
        throw new Error('handler bug');
      },
      async () => {},
    );
    expect(() => progress.fail(new Error('EIO'), () => 'x')).not.toThrow();
    expect(() => progress.report(new Error('w'), { kind: 'warning' })).not.toThrow();
  });
});

describe('WriterLoop writer runs', () => {
  it('runs again for a flush that arrives while a failed run is ending', async () => {
    let runs = 0;
    let failNext = true;
    const progress: WriterLoop = new WriterLoop(
      () => {},
      async () => {
        runs++;
        if (failNext) progress.fail(new Error('EIO'), () => 'failed');
        else progress.complete(progress.outstanding);
      },
    );
    progress.enqueue(1);
    // Retry from the rejection handler itself: it runs before the failed run has finished
    // settling, which is when a flush used to be lost.
    const retried = progress.waitForAll().catch(() => {
      failNext = false;
      return progress.waitForAll();
    });
    await retried;
    expect(runs).toBe(2);
  });
});

describe('WriterLoop flush during a failing write', () => {
  /** A writer whose write is held at a gate, and fails if the fault was on when it began. */
  function heldWriter() {
    const reports: RecordsErrorInfo['kind'][] = [];
    let faulty = true;
    let release: () => void = () => {};
    let gate: Promise<void> | null = null;
    let runs = 0;
    const loop: WriterLoop = new WriterLoop(
      (_error, info) => reports.push(info.kind),
      async () => {
        runs++;
        const begunUnderFault = faulty;
        if (gate) await gate;
        if (begunUnderFault) loop.fail(new Error('EIO'), (c) => `failed: ${c.message}`);
        else loop.complete(loop.outstanding);
      },
    );
    return {
      loop,
      reports,
      runs: () => runs,
      hold: () => {
        gate = new Promise<void>((resolve) => {
          release = () => {
            gate = null;
            resolve();
          };
        });
      },
      release: () => release(),
      setFaulty: (value: boolean) => {
        faulty = value;
      },
    };
  }

  async function until(condition: () => boolean): Promise<void> {
    const deadline = Date.now() + 5000;
    while (!condition() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 1));
    expect(condition()).toBe(true);
  }

  it('a flush called after the fault cleared, while a write begun under it is failing, retries and resolves', async () => {
    const w = heldWriter();
    w.hold();
    w.loop.enqueue(1);
    w.loop.schedule();
    await until(() => w.runs() === 1); // the write has begun, under the fault
    w.setFaulty(false); // the fault clears
    const flushing = w.loop.waitForAll(); // called after that
    w.release(); // the write begun under the fault fails now
    await expect(flushing).resolves.toBeUndefined();
    expect(w.loop.outstanding).toBe(0);
    expect(w.reports).toEqual(['write-failed', 'write-recovered']);
  });

  it('a flush called while a write begun before it is failing rejects when its own retry fails too, with one report', async () => {
    const w = heldWriter();
    w.hold();
    w.loop.enqueue(1);
    w.loop.schedule();
    await until(() => w.runs() === 1);
    const flushing = w.loop.waitForAll();
    w.release(); // fails; the flush retries once itself, and that fails as well
    await expect(flushing).rejects.toBeInstanceOf(RecordsWriteError);
    expect(w.runs()).toBe(2);
    expect(w.reports).toEqual(['write-failed']);
    w.setFaulty(false);
    await expect(w.loop.waitForAll()).resolves.toBeUndefined(); // the next flush is the retry
    expect(w.reports).toEqual(['write-failed', 'write-recovered']);
  });

  it("a flush called before the write began rejects with that write's failure", async () => {
    const w = heldWriter();
    w.loop.enqueue(1);
    const flushing = w.loop.waitForAll(); // starts the write itself
    await expect(flushing).rejects.toBeInstanceOf(RecordsWriteError);
    expect(w.runs()).toBe(1);
    expect(w.reports).toEqual(['write-failed']);
  });
});

describe('WriterLoop background drain', () => {
  it('writes a record appended right after a flush without anyone flushing again', async () => {
    // A writer like a backend's: it takes what is queued and marks it written.
    const written: number[] = [];
    let queued: number[] = [];
    const progress: WriterLoop = new WriterLoop(
      () => {},
      async () => {
        while (queued.length > 0) {
          const batch = queued;
          queued = [];
          await new Promise((resolve) => setTimeout(resolve, 1));
          written.push(...batch);
          progress.complete(batch.length);
        }
      },
    );
    const append = (n: number) => {
      queued.push(n);
      progress.enqueue();
      progress.schedule();
    };
    append(1);
    await progress.waitForAll();
    append(2); // the run that served the flush may still be ending
    const deadline = Date.now() + 5000;
    while (written.length < 2 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    expect(written).toEqual([1, 2]);
    expect(progress.outstanding).toBe(0);
  });

  it('does not spin when a run leaves work it cannot write and nothing changes', async () => {
    let runs = 0;
    const progress = new WriterLoop(
      () => {},
      async () => {
        runs++;
      },
    );
    progress.enqueue();
    progress.schedule();
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(runs).toBe(1);
  });
});

describe('WriterLoop maxPendingBytes', () => {
  it('one dropped burst makes one wait reject, saying how many were dropped; later waits resolve', async () => {
    let written = 0;
    const progress: WriterLoop = new WriterLoop(
      () => {},
      async () => {
        const n = progress.outstanding;
        written += n;
        progress.complete(n);
      },
    );
    progress.admit(60, 100);
    progress.enqueue(1, 60); // not started: the bytes stay queued
    expect(progress.pendingBytes).toBe(60);
    for (let i = 0; i < 81; i++)
      expect(() => progress.admit(60, 100)).toThrow(RecordsOverflowError);
    const first = progress.waitForAll();
    await expect(first).rejects.toBeInstanceOf(RecordsOverflowError);
    await expect(first).rejects.toMatchObject({ dropped: 81 });
    expect(written).toBe(1); // what was queued before the report is still written
    expect(progress.pendingBytes).toBe(0);
    for (let i = 0; i < 81; i++) await expect(progress.waitForAll()).resolves.toBeUndefined();
  });

  it('releases the bytes of completed and discarded operations, oldest first; a rewrite counts nothing', () => {
    const progress = new WriterLoop(
      () => {},
      async () => {},
    );
    progress.enqueue(1, 10);
    progress.enqueue(1, 20);
    progress.enqueue(1); // a rewrite
    progress.enqueue(1, 40);
    expect(progress.pendingBytes).toBe(70);
    progress.complete(1);
    expect(progress.pendingBytes).toBe(60);
    progress.discard(2);
    expect(progress.pendingBytes).toBe(40);
    progress.complete(1);
    expect(progress.pendingBytes).toBe(0);
  });
});

describe('WriterLoop failure latched while no operation is outstanding', () => {
  /** Settles with how `wait` ended, or 'pending' after 5 s (a wait nothing ever answers). */
  async function outcome(wait: Promise<void>): Promise<string> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const pending = new Promise<string>((resolve) => {
      timer = setTimeout(() => resolve('pending'), 5000);
    });
    const settled = wait.then(
      () => 'resolved',
      (error: Error) => `rejected: ${error.message}`,
    );
    try {
      return await Promise.race([settled, pending]);
    } finally {
      clearTimeout(timer);
    }
  }

  function failingFirstRuns(failures: number) {
    let runs = 0;
    const loop: WriterLoop = new WriterLoop(
      () => {},
      async () => {
        // Work beside the counted operations (a snapshot's position, say) fails.
        if (++runs <= failures) loop.fail(new Error('disk gone'), (cause) => cause.message);
      },
    );
    return { loop, runs: () => runs };
  }

  it('a wait retries the writer once and resolves when that run succeeds', async () => {
    const { loop, runs } = failingFirstRuns(1);
    loop.wake();
    await loop.running;
    expect([loop.failure?.message, loop.outstanding]).toEqual(['disk gone', 0]);
    expect(await outcome(loop.waitForAll())).toBe('resolved');
    expect(runs()).toBe(2);
  });

  it('a wait rejects with RecordsWriteError when the retry fails too', async () => {
    const { loop, runs } = failingFirstRuns(2);
    loop.wake();
    await loop.running;
    expect(await outcome(loop.waitForAll())).toBe('rejected: disk gone');
    expect(runs()).toBe(2);
  });
});
