import { describe, expect, it } from 'vitest';
import { OperationQueue } from './operation-queue.js';

function queueOf(...lines: string[]): OperationQueue<string, string> {
  const queue = new OperationQueue<string, string>();
  for (const line of lines) queue.append(line, line.length);
  return queue;
}

describe('OperationQueue', () => {
  it('hands the writer everything queued as one batch, and nothing while it is empty', () => {
    const queue = queueOf('a', 'bb');
    expect(queue.take()).toEqual({ rewrite: null, appends: ['a', 'bb'] });
    expect(queue.operations).toBe(2);
    expect(queue.written()).toBe(2);
    expect(queue.take()).toBeNull();
    expect(queue.operations).toBe(0);
    expect(queue.pendingBytes).toBe(0);
  });

  it('refuses to take a second batch while one is in flight', () => {
    const queue = queueOf('a');
    queue.take();
    queue.append('b');
    expect(() => queue.take()).toThrow(/in flight/);
    expect(() => new OperationQueue().written()).toThrow(/no batch is in flight/);
  });

  it('puts a failed batch back before the appends queued meanwhile', () => {
    const queue = queueOf('a', 'b');
    queue.take();
    queue.append('c', 1);
    expect(queue.requeue()).toBe(0);
    expect(queue.snapshot()).toEqual({ base: null, appends: ['a', 'b', 'c'] });
    expect(queue.take()).toEqual({ rewrite: null, appends: ['a', 'b', 'c'] });
    expect(queue.pendingBytes).toBe(3);
  });

  it('a rewrite drops the queued appends and says how many, for WriterLoop.discard', () => {
    const queue = queueOf('a', 'bb');
    expect(queue.rewrite(['x'])).toBe(2);
    expect(queue.pendingBytes).toBe(0);
    expect(queue.rewrite(['y'])).toBe(1); // an earlier queued rewrite is one operation
    expect(queue.take()).toEqual({ rewrite: ['y'], appends: [] });
  });

  it('drops a failed batch instead of requeueing it when a rewrite was queued while it was in flight', () => {
    const queue = queueOf('a', 'bb');
    queue.take();
    queue.rewrite(['x']);
    queue.append('c', 1);
    expect(queue.requeue()).toBe(2);
    expect(queue.pendingBytes).toBe(1);
    expect(queue.take()).toEqual({ rewrite: ['x'], appends: ['c'] });
  });

  it('drops a failed rewrite superseded by a rewrite queued while it was in flight (it must not overwrite the newer one)', () => {
    const queue = new OperationQueue<string, string>();
    queue.rewrite(['old']);
    queue.take({ rewriteAlone: true });
    queue.rewrite(['new']);
    expect(queue.requeue()).toBe(1);
    expect(queue.snapshot()).toEqual({ base: ['new'], appends: [] });
    expect(queue.take()).toEqual({ rewrite: ['new'], appends: [] });
  });

  it('counts an in-flight batch as written even when a rewrite was queued meanwhile', () => {
    const queue = queueOf('a');
    queue.take();
    queue.rewrite(['x']);
    expect(queue.written()).toBe(1);
    expect(queue.operations).toBe(1);
  });

  it('takes a rewrite alone when asked, leaving the appends after it for the next batch', () => {
    const queue = new OperationQueue<string, string>();
    queue.rewrite(['x']);
    queue.append('a');
    expect(queue.take({ rewriteAlone: true })).toEqual({ rewrite: ['x'], appends: [] });
    expect(queue.snapshot()).toEqual({ base: ['x'], appends: ['a'] });
    queue.written();
    expect(queue.take()).toEqual({ rewrite: null, appends: ['a'] });
  });

  it('cuts a batch at maxAppends, and never takes an empty batch', () => {
    const queue = queueOf('a', 'b', 'c');
    expect(queue.take({ maxAppends: 2 })?.appends).toEqual(['a', 'b']);
    queue.written();
    queue.rewrite(['x']);
    queue.append('d');
    expect(queue.take({ maxAppends: 0 })).toEqual({ rewrite: ['x'], appends: [] });
    queue.written();
    expect(queue.take({ maxAppends: 0 })).toEqual({ rewrite: null, appends: ['d'] });
  });

  it('requeues only the appends of a refused rewrite (dropRewrite), counting the rewrite as dropped', () => {
    const queue = new OperationQueue<string, string>();
    queue.rewrite(['bad']);
    queue.append('a', 1);
    queue.take();
    expect(queue.requeue({ dropRewrite: true })).toBe(1);
    expect(queue.snapshot()).toEqual({ base: null, appends: ['a'] });
    expect(queue.pendingBytes).toBe(1);
  });

  it('drops a refused batch for good, returning its operations', () => {
    const queue = queueOf('a', 'b');
    queue.take({ maxAppends: 1 });
    expect(queue.drop()).toBe(1);
    expect(queue.pendingBytes).toBe(1);
    expect(queue.snapshot().appends).toEqual(['b']);
  });

  it('acknowledges a requeued batch that had been written after all, and only while it is at the head', () => {
    const queue = new OperationQueue<string, string>();
    queue.rewrite(['x']);
    queue.append('a', 1);
    queue.append('b', 1);
    queue.take();
    queue.append('c', 1);
    queue.requeue();
    expect(queue.acknowledgeRequeued(1)).toBe(2); // the rewrite and 'a'
    expect(queue.snapshot()).toEqual({ base: null, appends: ['b', 'c'] });
    expect(queue.pendingBytes).toBe(2);
    expect(queue.acknowledgeRequeued()).toBe(0); // once

    queue.take();
    queue.requeue();
    queue.rewrite(['y']); // superseded: nothing requeued is at the head any more
    expect(queue.acknowledgeRequeued()).toBe(0);
    expect(queue.take()).toEqual({ rewrite: ['y'], appends: [] });
  });

  it('gives a reader the in-flight and queued work as one view, copied at that instant', () => {
    const queue = new OperationQueue<string, string>();
    queue.rewrite(['x']);
    queue.append('a');
    queue.take();
    queue.append('b');
    const view = queue.snapshot();
    queue.append('c');
    expect(view).toEqual({ base: ['x'], appends: ['a', 'b'] });
    expect(queue.unwritten()).toEqual([
      { rewrite: ['x'], appends: ['a'] },
      { rewrite: null, appends: ['b', 'c'] },
    ]);
  });

  it('forgets everything on clear (a writer refused for good)', () => {
    const queue = queueOf('a');
    queue.take();
    queue.append('b', 1);
    queue.clear();
    expect(queue.operations).toBe(0);
    expect(queue.pendingBytes).toBe(0);
    expect(queue.inflight).toBeNull();
    expect(queue.unwritten()).toEqual([]);
  });
});
