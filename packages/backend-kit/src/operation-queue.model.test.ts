import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { OperationQueue } from './operation-queue.js';

/**
 * The queue against a plain model: the log a host expects (every append in order, a rewrite
 * replacing everything before it, a refused rewrite or a dropped append as if never called) must
 * always be the store's contents plus the queue's snapshot, whatever mix of appends, rewrites,
 * batches written, failed, refused and dropped came before; the operation counts must add up;
 * and draining the queue must leave exactly the expected log, with every operation counted done.
 * Marks (a snapshot's place): whenever one is reached, the store holds exactly the log the host
 * expected when it was made (batches never run past it); every mark a rewrite did not lose is
 * reached by the drain.
 */
type Command =
  | { kind: 'append'; bytes: number }
  | { kind: 'rewrite'; length: number }
  | { kind: 'take'; maxAppends?: number; rewriteAlone: boolean }
  | { kind: 'written' }
  | { kind: 'failed' }
  | { kind: 'refused' }
  | { kind: 'dropped' }
  | { kind: 'acknowledge'; appends: number }
  | { kind: 'mark' };

const command: fc.Arbitrary<Command> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('append' as const), bytes: fc.nat(9) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('rewrite' as const), length: fc.nat(3) }) },
  {
    weight: 3,
    arbitrary: fc.record(
      {
        kind: fc.constant('take' as const),
        maxAppends: fc.nat(4),
        rewriteAlone: fc.boolean(),
      },
      { requiredKeys: ['kind', 'rewriteAlone'] },
    ),
  },
  { weight: 2, arbitrary: fc.constant({ kind: 'written' as const }) },
  { weight: 2, arbitrary: fc.constant({ kind: 'failed' as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'refused' as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'dropped' as const }) },
  {
    weight: 1,
    arbitrary: fc.record({ kind: fc.constant('acknowledge' as const), appends: fc.nat(4) }),
  },
  { weight: 2, arbitrary: fc.constant({ kind: 'mark' as const }) },
);

interface ModelMark {
  id: number;
  /** Host operations made before it (their `seq` is below this). */
  before: number;
  /** The newest rewrite queued before it (its segment), or null. */
  segment: readonly Line[] | null;
  lost: boolean;
}

interface Line {
  id: number;
  bytes: number;
}

function run(commands: Command[]): void {
  const queue = new OperationQueue<Line, Line>();
  let store: Line[] = [];
  // What the host did, minus what the store refused: the expected log is its fold.
  let alive: Array<({ append: Line } | { rewrite: readonly Line[] }) & { seq: number }> = [];
  let seq = 0;
  const expectedLog = (before = Number.POSITIVE_INFINITY) => {
    let log: Line[] = [];
    for (const op of alive) {
      if (op.seq >= before) break;
      if ('append' in op) log.push(op.append);
      else log = [...op.rewrite];
    }
    return log;
  };
  let next = 0;
  let enqueued = 0;
  let settled = 0; // written or dropped
  let lastFailed: { rewrite: readonly Line[] | null; appends: readonly Line[] } | null = null;
  const apply = (batch: { rewrite: readonly Line[] | null; appends: readonly Line[] }) => {
    if (batch.rewrite) store = [...batch.rewrite];
    store.push(...batch.appends);
  };
  const marks: ModelMark[] = [];
  let lastRewrite: readonly Line[] | null = null;
  let reached = 0;
  /** A mark just reached: the store is the log the host expected when it was made. */
  const checkMarks = () => {
    const now = queue.reachedMark;
    for (const mark of marks) {
      if (mark.id <= reached || mark.id > now || mark.lost) continue;
      expect(store, `store when mark ${mark.id} is reached`).toEqual(expectedLog(mark.before));
    }
    reached = now;
  };
  const loseSegment = (rewrite: readonly Line[]) => {
    for (const mark of marks) if (mark.segment === rewrite) mark.lost = true;
  };

  for (const cmd of commands) {
    switch (cmd.kind) {
      case 'append': {
        const line = { id: next++, bytes: cmd.bytes };
        queue.append(line, line.bytes);
        alive.push({ append: line, seq: seq++ });
        enqueued++;
        break;
      }
      case 'rewrite': {
        const records = Array.from({ length: cmd.length }, () => ({ id: next++, bytes: 0 }));
        queue.rewrite(records);
        enqueued++;
        alive.push({ rewrite: records, seq: seq++ });
        for (const mark of marks) if (mark.id > reached) mark.lost = true;
        lastRewrite = records;
        break;
      }
      case 'mark':
        marks.push({ id: queue.mark(), before: seq, segment: lastRewrite, lost: false });
        break;
      case 'take':
        if (queue.inflight === null) {
          queue.take(cmd);
          lastFailed = null;
        }
        break;
      case 'written': {
        const batch = queue.inflight;
        if (batch) {
          apply(batch);
          settled += queue.written();
        }
        break;
      }
      case 'failed': {
        const batch = queue.inflight;
        if (batch) {
          settled += queue.requeue();
          lastFailed = batch;
        }
        break;
      }
      case 'refused': {
        const batch = queue.inflight;
        if (batch?.rewrite) {
          settled += queue.requeue({ dropRewrite: true });
          alive = alive.filter((op) => !('rewrite' in op) || op.rewrite !== batch.rewrite);
          loseSegment(batch.rewrite);
          lastFailed = null;
        }
        break;
      }
      case 'dropped': {
        const batch = queue.inflight;
        if (batch) {
          settled += queue.drop();
          const gone = new Set<unknown>([batch.rewrite, ...batch.appends]);
          alive = alive.filter((op) => !gone.has('append' in op ? op.append : op.rewrite));
          if (batch.rewrite) loseSegment(batch.rewrite);
          lastFailed = null;
        }
        break;
      }
      case 'acknowledge':
        // The store learns that the failed batch had committed a prefix of it after all.
        if (lastFailed && queue.inflight === null) {
          const count = Math.min(cmd.appends, lastFailed.appends.length);
          const done = queue.acknowledgeRequeued(count);
          if (done > 0)
            apply({ rewrite: lastFailed.rewrite, appends: lastFailed.appends.slice(0, count) });
          settled += done;
          lastFailed = null;
        }
        break;
    }
    checkMarks();
    const view = queue.snapshot();
    expect([...(view.base ?? store), ...view.appends]).toEqual(expectedLog());
    expect(enqueued - settled).toBe(queue.operations);
    const unwritten = queue.unwritten().flatMap((b) => b.appends);
    expect(queue.pendingBytes).toBe(unwritten.reduce((sum, line) => sum + line.bytes, 0));
  }

  // Drain: whatever happened, the store ends with exactly the expected log, each record once.
  const inflight = queue.inflight;
  if (inflight) settled += queue.requeue();
  for (let batch = queue.take(); batch !== null; batch = queue.take()) {
    apply(batch);
    settled += queue.written();
    checkMarks();
  }
  expect(store).toEqual(expectedLog());
  for (const mark of marks) {
    if (!mark.lost)
      expect(mark.id, 'a mark no rewrite lost is reached').toBeLessThanOrEqual(reached);
  }
  expect(settled).toBe(enqueued);
  expect(queue.pendingBytes).toBe(0);
}

describe('OperationQueue against a model', () => {
  it('store + snapshot is always the expected log, counts add up, and a drain writes each record once, in order', () => {
    fc.assert(
      fc.property(fc.array(command, { maxLength: 60 }), (commands) => run(commands)),
      { numRuns: 500 },
    );
  });
});
