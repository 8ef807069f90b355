import { describe, expect, it } from 'vitest';
import { RecordsLockedError, RecordsWriteError } from './errors.js';
import type { RecordsErrorInfo } from './persistence.js';
import { WriteProgress } from './write-progress.js';

function setup() {
  const reports: Array<[RecordsErrorInfo['kind'], Error]> = [];
  const progress = new WriteProgress((error, info) => reports.push([info.kind, error]));
  let starts = 0;
  const start = () => {
    starts++;
  };
  return { progress, reports, start, starts: () => starts };
}

describe('WriteProgress', () => {
  it('resolves a wait once everything queued before it is written, not what came after', async () => {
    const { progress, start, starts } = setup();
    await progress.waitForAll(start); // nothing queued: resolves at once
    expect(starts()).toBe(0);
    progress.enqueue(3);
    let done = false;
    const wait = progress.waitForAll(start).then(() => {
      done = true;
    });
    expect(starts()).toBe(1);
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
    const { progress, reports, start } = setup();
    progress.enqueue(10);
    const first = progress.waitForAll(start);
    const cause = Object.assign(new Error('no space'), { code: 'ENOSPC' });
    progress.fail(cause, (c) => `failed: ${c.message}`);
    await expect(first).rejects.toMatchObject({ message: 'failed: no space', cause });
    await expect(first).rejects.toBeInstanceOf(RecordsWriteError);
    expect(progress.writable).toBe(false);
    const retry = progress.waitForAll(start); // clears the latch: the retry
    expect(progress.writable).toBe(true);
    progress.fail(new Error('still full'), () => 'again');
    await expect(retry).rejects.toThrow('again');
    expect(reports.map(([kind]) => kind)).toEqual(['write-failed']);
    const third = progress.waitForAll(start);
    progress.complete(10);
    await third;
    expect(reports.map(([kind, error]) => [kind, error])).toEqual([
      ['write-failed', cause],
      ['write-recovered', cause],
    ]);
  });

  it('a refusal is final', async () => {
    const { progress, reports, start } = setup();
    progress.enqueue();
    const waiting = progress.waitForAll(start);
    const locked = new RecordsLockedError('held by pid 7');
    progress.refuse(locked);
    await expect(waiting).rejects.toBe(locked);
    await expect(progress.waitForAll(start)).rejects.toBe(locked);
    expect(progress.refusal).toBe(locked);
    expect(reports).toEqual([['write-failed', locked]]);
  });

  it('discarding superseded work settles waits without ending an episode', async () => {
    const { progress, reports, start } = setup();
    progress.enqueue(2);
    progress.fail(new Error('EIO'), () => 'failed');
    const wait = progress.waitForAll(start);
    progress.discard(2);
    await wait;
    expect(reports.map(([kind]) => kind)).toEqual(['write-failed']);
  });

  it('survives a throwing error handler', () => {
    const progress = new WriteProgress(() => {
      throw new Error('handler bug');
    });
    expect(() => progress.fail(new Error('EIO'), () => 'x')).not.toThrow();
    expect(() => progress.report(new Error('w'), { kind: 'warning' })).not.toThrow();
  });
});
