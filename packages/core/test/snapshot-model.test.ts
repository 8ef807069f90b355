import { InMemoryAgentRecordPersistence } from '@agent-records/memory-persistence';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Host, type Rec } from './snapshot-host.js';

type Step =
  | { kind: 'log'; values: number[] }
  | { kind: 'observe' }
  | { kind: 'snapshot' }
  | { kind: 'flush' }
  | { kind: 'resume' };

const step: fc.Arbitrary<Step> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant('log' as const),
      values: fc.array(fc.integer(), { minLength: 1, maxLength: 6 }),
    }),
  },
  { weight: 1, arbitrary: fc.constant({ kind: 'observe' as const }) },
  { weight: 2, arbitrary: fc.constant({ kind: 'snapshot' as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'flush' as const }) },
  { weight: 2, arbitrary: fc.constant({ kind: 'resume' as const }) },
);

describe('snapshots, model-based', () => {
  it('any sequence of logRecord, snapshot, flush and resume ends in the state a full replay gives', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(step, { maxLength: 25 }),
        fc.integer({ min: 1, max: 8 }),
        async (steps, everyRecords) => {
          const persistence = new InMemoryAgentRecordPersistence<Rec>();
          const open = async () => {
            const host = new Host(persistence, { snapshots: { everyRecords } });
            await host.records.replay();
            return host;
          };
          let host = await open();
          let live = host.state;
          for (const s of steps) {
            if (s.kind === 'log') for (const value of s.values) host.add(value);
            else if (s.kind === 'observe') {
              // Kept in the log, never restored: counted like a full replay counts them.
              host.records.logRecord({ type: 'llm.request', model: 'm' } as Rec);
            } else if (s.kind === 'snapshot') host.records.snapshot();
            else if (s.kind === 'flush') await host.records.flush();
            else {
              // Resume in a fresh instance: the state it rebuilds is the live one.
              // (The old one is left as a crashed process would leave it, its work flushed.)
              live = host.state;
              await host.records.flush();
              host = await open();
              expect(host.state).toEqual(live);
              expect(host.warnings).toEqual([]);
            }
          }
          await host.records.flush();
          const full = new Host(persistence, { snapshots: false });
          const fullResult = await full.records.replay();
          expect(full.state).toEqual(host.state);
          const reader = new Host(persistence, { snapshots: { everyRecords } });
          const readerResult = await reader.records.replay();
          expect(reader.state).toEqual(full.state);
          expect(reader.warnings).toEqual([]);
          // The same count as a full replay, with the snapshot standing for the records it covers.
          expect(readerResult.records).toBe(fullResult.records);
          const snapshot = await persistence.readSnapshot();
          expect(readerResult.fromSnapshot?.records).toBe(snapshot?.records);
          if (snapshot) {
            const tail = persistence.records.slice(snapshot.records);
            const restorable = tail.filter((record) => record.type !== 'llm.request');
            expect(reader.restoredRecords).toBe(restorable.length);
          }
        },
      ),
      { numRuns: 150 },
    );
  });
});
