import { describe, expect, it } from 'vitest';
import { OperationQueue } from './operation-queue.js';

function queueOf(...lines: string[]): OperationQueue<string, string> {
  const queue = new OperationQueue<string, string>();
  for (const line of lines) queue.append(line, line.length);
  return queue;
}

describe('OperationQueue marks', () => {
  it('a mark on an empty queue is reached at once', () => {
    const queue = queueOf();
    expect(queue.reachedMark).toBe(0);
    expect(queue.mark()).toBe(1);
    expect(queue.reachedMark).toBe(1);
  });

  it('never hands the writer a batch past a mark, and reaches it once the batch is written', () => {
    const queue = queueOf('a', 'b');
    const mark = queue.mark();
    queue.append('c');
    expect(queue.reachedMark).toBe(0);
    expect(queue.take()).toEqual({ rewrite: null, appends: ['a', 'b'] });
    expect(queue.reachedMark).toBe(0); // in flight is not written
    expect(queue.written()).toBe(2);
    expect(queue.reachedMark).toBe(mark);
    expect(queue.take()).toEqual({ rewrite: null, appends: ['c'] });
  });

  it('counts appends in flight when the mark is made: reached only once they are written', () => {
    const queue = queueOf('a');
    queue.take();
    const mark = queue.mark();
    queue.append('b');
    expect(queue.reachedMark).toBe(0);
    expect(queue.requeue()).toBe(0); // failed: back at the head, still before the mark
    expect(queue.reachedMark).toBe(0);
    expect(queue.take()).toEqual({ rewrite: null, appends: ['a'] });
    queue.written();
    expect(queue.reachedMark).toBe(mark);
  });

  it('cuts at each of several marks, with maxAppends still applied', () => {
    const queue = queueOf('a', 'b', 'c');
    queue.mark();
    queue.append('d');
    queue.mark();
    queue.append('e');
    expect(queue.take({ maxAppends: 2 })).toEqual({ rewrite: null, appends: ['a', 'b'] });
    queue.written();
    expect(queue.take()).toEqual({ rewrite: null, appends: ['c'] });
    queue.written();
    expect(queue.reachedMark).toBe(1);
    expect(queue.take()).toEqual({ rewrite: null, appends: ['d'] });
    queue.written();
    expect(queue.reachedMark).toBe(2);
    expect(queue.take()).toEqual({ rewrite: null, appends: ['e'] });
  });

  it('a mark right after a rewrite takes the rewrite alone; reached once it is written', () => {
    const queue = queueOf('a');
    queue.rewrite(['x']);
    const mark = queue.mark();
    queue.append('b');
    expect(queue.take()).toEqual({ rewrite: ['x'], appends: [] });
    expect(queue.reachedMark).toBe(0);
    queue.written();
    expect(queue.reachedMark).toBe(mark);
    expect(queue.take()).toEqual({ rewrite: null, appends: ['b'] });
  });

  it('a rewrite queued after a mark loses it: it is never reached', () => {
    const queue = queueOf('a');
    const lost = queue.mark();
    queue.rewrite(['x']);
    const kept = queue.mark();
    expect(queue.take()).toEqual({ rewrite: ['x'], appends: [] });
    queue.written();
    expect(queue.reachedMark).toBe(kept);
    expect(kept).toBeGreaterThan(lost);
  });

  it('a refused rewrite loses the marks after it; later marks are reached as usual', () => {
    const queue = queueOf('a');
    queue.rewrite(['bad']);
    queue.mark(); // stood for the rewritten log
    queue.append('b');
    queue.take();
    queue.requeue({ dropRewrite: true });
    const after = queue.mark();
    queue.append('c');
    // Nothing cuts at the lost mark: 'a' and 'b' go together, then the mark after them.
    expect(queue.take()).toEqual({ rewrite: null, appends: ['a', 'b'] });
    queue.written();
    expect(queue.reachedMark).toBe(after);
  });

  it('clear() loses every mark', () => {
    const queue = queueOf('a');
    queue.mark();
    queue.clear();
    queue.append('b');
    expect(queue.take()).toEqual({ rewrite: null, appends: ['b'] });
    queue.written();
    expect(queue.reachedMark).toBe(0);
  });
});
