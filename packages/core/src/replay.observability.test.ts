import type { AgentRecordEnvelope, AgentRecordPersistence } from '@agent-records/types';
import { describe, expect, it, vi } from 'vitest';

// Two observability types of the same length (none share one today): the replay loop's quick
// check sends every record of that length the long way, which skips exactly those two.
vi.mock('@agent-records/types', async (importOriginal) => {
  const actual = await importOriginal<typeof import('@agent-records/types')>();
  const types = Object.freeze(['obs.aaaa', 'obs.bbbb']);
  return {
    ...actual,
    OBSERVABILITY_RECORD_TYPES: types,
    isObservabilityRecord: (record: AgentRecordEnvelope) => types.includes(record.type),
  };
});

const { AgentRecords } = await import('./agent-records.js');

type Rec = AgentRecordEnvelope & Record<string, unknown>;

describe('observability types that share a length', () => {
  it('skips each of them and restores the other types of that length', async () => {
    const batch: Rec[] = [
      { type: 'metadata', protocol_version: '1.0', created_at: 5 },
      { type: 'obs.aaaa', time: 1 },
      { type: 'obs.cccc', time: 2 },
      { type: 'obs.bbbb', time: 3 },
      { type: 'other', time: 4 },
    ];
    const persistence = {
      async *read() {
        yield* batch;
      },
      async *readBatches() {
        yield batch;
      },
      append() {},
      rewrite() {},
      async flush() {},
      async close() {},
    } as AgentRecordPersistence<Rec>;
    const seen: string[] = [];
    const records = new AgentRecords<Rec>({
      persistence,
      protocolVersion: '1.0',
      restore: (record) => {
        seen.push(record.type);
      },
    });
    expect((await records.replay()).records).toBe(3);
    expect(seen).toEqual(['metadata', 'obs.cccc', 'other']);
  });
});
