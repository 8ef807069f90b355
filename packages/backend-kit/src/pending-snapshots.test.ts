import type { RecordsErrorInfo, RecordsPosition } from '@agent-records/types';
import { describe, expect, it } from 'vitest';
import { ErrorReporter } from './error-reporter.js';
import { PendingSnapshots, type ReadySnapshot } from './pending-snapshots.js';

/** A promise and its settlers, for data made later. */
function later<T>() {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** Lets queued promise callbacks run (no timers: each step is a microtask turn). */
async function turns(n = 10): Promise<void> {
  for (let i = 0; i < n; i++) await Promise.resolve();
}

function setup(write?: (snapshot: ReadySnapshot) => Promise<void>) {
  const written: ReadySnapshot[] = [];
  const warnings: string[] = [];
  const kinds: RecordsErrorInfo['kind'][] = [];
  const errors = new ErrorReporter({
    onError: (error, info) => {
      kinds.push(info.kind);
      warnings.push(error.message);
    },
  });
  const snapshots = new PendingSnapshots({
    errors,
    log: 'the test log',
    write:
      write ??
      (async (snapshot) => {
        written.push(snapshot);
      }),
  });
  return { snapshots, written, warnings, kinds };
}

const at =
  (index: number): (() => RecordsPosition) =>
  () => ({ index });

describe('PendingSnapshots', () => {
  it('writes a snapshot once its mark is reached, with the position at that mark', async () => {
    const { snapshots, written } = setup();
    snapshots.request({ records: 3, data: '{"s":1}' }, 1);
    await turns();
    expect(written).toEqual([]); // its records are not durable yet
    expect(snapshots.needsPosition(0)).toBe(false);
    expect(snapshots.needsPosition(1)).toBe(true);
    snapshots.reached(1, at(3));
    await snapshots.settled();
    expect(written).toEqual([{ records: 3, data: '{"s":1}', bytes: 7, position: { index: 3 } }]);
    expect(snapshots.pending).toBe(0);
  });

  it('asks for the position only when a request needs it, once per call', () => {
    const { snapshots } = setup();
    let asked = 0;
    const position = () => {
      asked++;
      return { index: 1 };
    };
    snapshots.reached(5, position);
    expect(asked).toBe(0); // nothing requested
    snapshots.request({ records: 1, data: new Promise<string>(() => {}) }, 6);
    snapshots.request({ records: 1, data: new Promise<string>(() => {}) }, 7);
    snapshots.reached(7, position);
    snapshots.reached(7, position); // already known: not asked again
    expect(asked).toBe(1);
  });

  it('waits for data that is still being made, then writes it; bytes are UTF-8', async () => {
    const { snapshots, written } = setup();
    const data = later<string>();
    snapshots.request({ records: 2, data: data.promise }, 1);
    snapshots.reached(1, at(2));
    let settled = false;
    void snapshots.settled().then(() => {
      settled = true;
    });
    await turns();
    expect(written).toEqual([]);
    expect(settled).toBe(false);
    data.resolve('"é😀"');
    await snapshots.settled();
    expect(settled).toBe(true);
    expect(written).toEqual([{ records: 2, data: '"é😀"', bytes: 8, position: { index: 2 } }]);
  });

  it('drops a snapshot whose data rejects or is not a string, as a warning', async () => {
    const { snapshots, written, warnings, kinds } = setup();
    snapshots.request({ records: 1, data: Promise.reject(new Error('state too deep')) }, 1);
    snapshots.request({ records: 2, data: Promise.resolve(42 as unknown as string) }, 2);
    snapshots.reached(2, at(2));
    await snapshots.settled();
    expect(written).toEqual([]);
    expect(kinds).toEqual(['warning', 'warning']);
    expect(warnings[0]).toMatch(
      /snapshot of the test log covering 1 records was dropped: its data could not be made \(state too deep\)/,
    );
    expect(warnings[1]).toMatch(/covering 2 records was dropped: its data is not a string/);
  });

  it('drops a snapshot whose write fails (also one that throws at once), as a warning', async () => {
    let calls = 0;
    const { snapshots, warnings, kinds } = setup((() => {
      calls++;
      if (calls === 1) throw new Error('EROFS');
      return Promise.reject(new Error('EIO'));
    }) as (snapshot: ReadySnapshot) => Promise<void>);
    snapshots.request({ records: 1, data: 'a' }, 1);
    snapshots.reached(1, at(1));
    await snapshots.settled();
    snapshots.request({ records: 2, data: 'b' }, 2);
    snapshots.reached(2, at(2));
    await snapshots.settled();
    expect(kinds).toEqual(['warning', 'warning']);
    expect(warnings[0]).toMatch(/covering 1 records was dropped: writing it failed \(EROFS\)/);
    expect(warnings[1]).toMatch(/writing it failed \(EIO\)/);
  });

  it('invalidate drops every request not yet being written, naming the reason', async () => {
    const { snapshots, written, warnings } = setup();
    const data = later<string>();
    snapshots.request({ records: 1, data: data.promise }, 1);
    snapshots.request({ records: 2, data: 'x' }, 2);
    snapshots.invalidate('the log is rewritten');
    expect(snapshots.pending).toBe(0);
    await snapshots.settled();
    data.resolve('late'); // nothing happens: dropped already
    snapshots.reached(2, at(2));
    await turns();
    expect(written).toEqual([]);
    expect(warnings).toHaveLength(2);
    expect(warnings[1]).toMatch(/covering 2 records was dropped: the log is rewritten/);
  });

  it('refuse drops a request it cannot queue as a warning, observing data that rejects', async () => {
    const { snapshots, written, warnings } = setup();
    snapshots.refuse({ records: 4, data: Promise.reject(new Error('late')) }, 'it is closed');
    snapshots.refuse({ records: 5, data: 'text' }, 'it is closed');
    await turns(); // an unobserved rejection would fail the run (strict unhandled rejections)
    expect(snapshots.pending).toBe(0);
    expect(written).toEqual([]);
    expect(warnings).toEqual([
      expect.stringMatching(/covering 4 records was dropped: it is closed\./),
      expect.stringMatching(/covering 5 records was dropped: it is closed\./),
    ]);
  });

  it('writes only the newest ready snapshot; older ones are never written after it', async () => {
    const { snapshots, written, warnings } = setup();
    const slow = later<string>();
    snapshots.request({ records: 1, data: slow.promise }, 1);
    snapshots.request({ records: 2, data: 'second' }, 2);
    snapshots.request({ records: 3, data: 'third' }, 3);
    snapshots.reached(3, at(3));
    await turns();
    slow.resolve('first'); // ready after a newer one: would replace it with older state
    await snapshots.settled();
    expect(written.map((s) => s.data)).toEqual(['third']);
    expect(warnings).toEqual([]); // superseded is not dropped
  });

  it('writes one at a time, and the newest of those that became ready meanwhile', async () => {
    const gates: Array<ReturnType<typeof later<void>>> = [];
    const order: string[] = [];
    const { snapshots } = setup((snapshot) => {
      order.push(`start ${snapshot.data}`);
      const gate = later<void>();
      gates.push(gate);
      return gate.promise.then(() => {
        order.push(`end ${snapshot.data}`);
      });
    });
    snapshots.request({ records: 1, data: 'a' }, 1);
    snapshots.reached(1, at(1));
    await turns();
    snapshots.request({ records: 2, data: 'b' }, 2);
    snapshots.request({ records: 3, data: 'c' }, 3);
    snapshots.reached(3, at(3));
    let idle = false;
    void snapshots.idle().then(() => {
      idle = true;
    });
    await turns();
    expect(order).toEqual(['start a']);
    expect(idle).toBe(false);
    expect(snapshots.pending).toBe(3);
    gates[0]?.resolve();
    await turns();
    expect(idle).toBe(true);
    expect(order).toEqual(['start a', 'end a', 'start c']);
    gates[1]?.resolve();
    await snapshots.settled();
    expect(order).toEqual(['start a', 'end a', 'start c', 'end c']);
  });

  it('settled() covers the snapshots requested so far, not later ones', async () => {
    const { snapshots } = setup();
    snapshots.request({ records: 1, data: 'a' }, 1);
    const first = snapshots.settled();
    snapshots.request({ records: 2, data: 'b' }, 2); // its mark is never reached here
    let done = false;
    void first.then(() => {
      done = true;
    });
    await turns();
    expect(done).toBe(false);
    snapshots.reached(1, at(1));
    await first;
    expect(snapshots.pending).toBe(1);
    let later2 = false;
    void snapshots.settled().then(() => {
      later2 = true;
    });
    await turns();
    expect(later2).toBe(false);
  });

  it('a request made once its mark is reached takes the position of the next report', async () => {
    const { snapshots, written } = setup();
    snapshots.reached(4, at(4)); // nothing waiting
    snapshots.request({ records: 4, data: 's' }, 5);
    snapshots.reached(5, at(4));
    await snapshots.settled();
    expect(written[0]?.position).toEqual({ index: 4 });
  });
});
