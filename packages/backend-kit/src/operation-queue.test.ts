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

  it('a rewrite supersedes what was queued before it once it is written, counting it done', () => {
    const queue = queueOf('a', 'bb');
    queue.rewrite(['x']);
    queue.append('c', 1);
    expect(queue.snapshot()).toEqual({ base: ['x'], appends: ['c'] });
    expect(queue.pendingBytes).toBe(4); // until the rewrite is written
    expect(queue.take()).toEqual({ rewrite: ['x'], appends: ['c'] });
    expect(queue.written()).toBe(4); // a, bb superseded; x and c written
    expect(queue.pendingBytes).toBe(0);
    expect(queue.take()).toBeNull();
  });

  it('keeps the appends before and after a rewrite the store refuses, in order', () => {
    const queue = queueOf('a');
    queue.rewrite(['bad']);
    queue.append('b');
    expect(queue.take()).toEqual({ rewrite: ['bad'], appends: ['b'] });
    expect(queue.requeue({ dropRewrite: true })).toBe(0); // done with 'a' and 'b' instead
    expect(queue.snapshot()).toEqual({ base: null, appends: ['a', 'b'] });
    expect(queue.take()).toEqual({ rewrite: null, appends: ['a', 'b'] });
    expect(queue.written()).toBe(3);
    expect(queue.operations).toBe(0);
  });

  it('a refused rewrite with nothing around it is done at once', () => {
    const queue = new OperationQueue<string, string>();
    queue.rewrite(['bad']);
    queue.take();
    expect(queue.requeue({ dropRewrite: true })).toBe(1);
    expect(queue.operations).toBe(0);
    expect(queue.take()).toBeNull();
  });

  it('writes the rewrite queued while a batch was in flight next, and a failed batch goes back before it', () => {
    const queue = queueOf('a', 'bb');
    queue.take();
    queue.rewrite(['x']);
    queue.append('c', 1);
    expect(queue.requeue()).toBe(0);
    expect(queue.take()).toEqual({ rewrite: ['x'], appends: ['c'] });
    expect(queue.written()).toBe(4);
    expect(queue.pendingBytes).toBe(0);
  });

  it('an older rewrite that failed never overwrites a newer one queued while it was in flight', () => {
    const queue = new OperationQueue<string, string>();
    queue.rewrite(['old']);
    queue.take();
    queue.rewrite(['new']);
    expect(queue.requeue()).toBe(0);
    expect(queue.snapshot()).toEqual({ base: ['new'], appends: [] });
    expect(queue.take()).toEqual({ rewrite: ['new'], appends: [] });
    expect(queue.written()).toBe(2);
    expect(queue.take()).toBeNull();
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
    expect(queue.written()).toBe(1);
    expect(queue.take()).toEqual({ rewrite: null, appends: ['a'] });
  });

  it('cuts a batch at maxAppends, and never takes an empty batch', () => {
    const queue = queueOf('a', 'b', 'c');
    expect(queue.take({ maxAppends: 2 })?.appends).toEqual(['a', 'b']);
    queue.written();
    queue.rewrite(['x']);
    queue.append('d');
    expect(queue.take({ maxAppends: 0 })).toEqual({ rewrite: ['x'], appends: [] });
    expect(queue.written()).toBe(2); // 'c' superseded, 'x' written
    expect(queue.take({ maxAppends: 0 })).toEqual({ rewrite: null, appends: ['d'] });
  });

  it('drops a refused append for good, returning it', () => {
    const queue = queueOf('a', 'b');
    queue.take({ maxAppends: 1 });
    expect(queue.drop()).toBe(1);
    expect(queue.pendingBytes).toBe(1);
    expect(queue.snapshot().appends).toEqual(['b']);
  });

  it('acknowledges a requeued batch that had been written after all, once', () => {
    const queue = new OperationQueue<string, string>();
    queue.append('old', 3);
    queue.rewrite(['x']);
    queue.append('a', 1);
    queue.append('b', 1);
    queue.take();
    queue.append('c', 1);
    queue.requeue();
    expect(queue.acknowledgeRequeued(1)).toBe(3); // 'old' superseded, the rewrite and 'a'
    expect(queue.snapshot()).toEqual({ base: null, appends: ['b', 'c'] });
    expect(queue.pendingBytes).toBe(2);
    expect(queue.acknowledgeRequeued()).toBe(0);
    queue.take();
    expect(queue.acknowledgeRequeued()).toBe(0); // nothing requeued since the take
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
    expect(queue.unwritten()).toEqual([{ rewrite: ['x'], appends: ['a', 'b', 'c'] }]);
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
