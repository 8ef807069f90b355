import {
  type AgentRecordEnvelope,
  type AgentRecordPersistence,
  RecordsInvalidError,
  RecordsReplayError,
  RecordsVersionError,
} from '@agent-records/types';
import { describe, expect, it } from 'vitest';
import { AgentRecords } from './agent-records.js';

type Rec = AgentRecordEnvelope & Record<string, unknown>;

/** A store that yields what it is given as it is (no backend check in between), in batches. */
function storeOf(batches: unknown[][]): AgentRecordPersistence<Rec> & { rewritten: Rec[] | null } {
  const store = {
    rewritten: null as Rec[] | null,
    async *read() {
      for (const batch of batches) yield* batch as Rec[];
    },
    async *readBatches() {
      for (const batch of batches) yield batch as Rec[];
    },
    append() {},
    rewrite(records: readonly Rec[]) {
      store.rewritten = [...records];
    },
    async flush() {},
    async close() {},
  };
  return store;
}

const meta = (version: string, createdAt = 5): Rec => ({
  type: 'metadata',
  protocol_version: version,
  created_at: createdAt,
});

async function replayOf(
  batches: unknown[][],
  options: Partial<ConstructorParameters<typeof AgentRecords<Rec>>[0]> = {},
) {
  const seen: Array<[string, number]> = [];
  const records = new AgentRecords<Rec>({
    persistence: storeOf(batches),
    protocolVersion: '1.0',
    restore: (record, { time }) => seen.push([record.type, time]),
    ...options,
  });
  return { result: await records.replay(), seen };
}

describe('the replay loop', () => {
  it('restores every record across batches with its time (the segment start when it has none)', async () => {
    const { result, seen } = await replayOf([
      [meta('1.0', 5), { type: 'a', time: 7 }],
      [],
      [{ type: 'b' }, { type: 'llm.request' }, { type: 'c', time: 0 }],
    ]);
    expect(seen).toEqual([
      ['metadata', 5],
      ['a', 7],
      ['b', 5],
      ['c', 0],
    ]);
    expect(result).toEqual({ records: 4, fromVersion: '1.0', migrated: false });
  });

  // The loop tells observability types by length first: types of the same lengths are records.
  it('gives restore the context that restoring returns, across batches and a nested restore()', async () => {
    const seen: unknown[] = [];
    const records: AgentRecords<Rec> = new AgentRecords<Rec>({
      persistence: storeOf([[meta('1.0', 5), { type: 'a', time: 7 }], [{ type: 'b' }]]),
      protocolVersion: '1.0',
      onError: () => {},
      restore: (record, context) => {
        seen.push(record.type, records.restoring === context, context);
        if (record.type === 'b') {
          const nested = { time: 99 };
          records.restore({ type: 'n' }, nested);
          seen.push(records.restoring === context);
        } else if (record.type === 'n') {
          seen.push(context.time);
        }
        records.logRecord({ type: 'ignored' });
        records.snapshot();
      },
    });
    await records.replay();
    expect(records.restoring).toBeNull();
    expect(seen).toEqual([
      'metadata',
      true,
      { time: 5 },
      'a',
      true,
      { time: 7 },
      'b',
      true,
      { time: 5 },
      'n',
      true,
      { time: 99 },
      99,
      true,
    ]);
    // Each record has a context of its own.
    expect(seen[2]).not.toBe(seen[5]);
  });

  it('skips every observability type, and restores types of the same lengths', async () => {
    const { result, seen } = await replayOf([
      [meta('1.0', 5), { type: 'llm.request' }, { type: 'turn.prompt', time: 1 }],
      [{ type: 'llm.tools_snapshot' }, { type: 'llm.tools_snapshoT', time: 2 }],
      [{ type: 'mcp.tools_discovered' }, { type: 'mcp.tools_discoverer', time: 3 }],
      [
        { type: 'x'.repeat(40), time: 4 },
        { type: 'metadatA', time: 5 },
      ],
    ]);
    expect(seen).toEqual([
      ['metadata', 5],
      ['turn.prompt', 1],
      ['llm.tools_snapshoT', 2],
      ['mcp.tools_discoverer', 3],
      ['x'.repeat(40), 4],
      ['metadatA', 5],
    ]);
    expect(result.records).toBe(6);
  });

  const notRecords: Array<[string, unknown, RegExp]> = [
    ['an empty type', { type: '' }, /record #3 of the log is not a record.*empty string/],
    ['a time that is not a number', { type: 'b', time: '7' }, /record #3 .*not a finite number/],
    ['an infinite time', { type: 'b', time: Number.POSITIVE_INFINITY }, /record #3 .*Infinity/],
    ['an array', Object.assign([], { type: 'b' }), /record #3 .*an array/],
    ['null', null, /record #3 .*null/],
    ['a string', 'b', /record #3 .*string/],
    [
      'a type that throws when read',
      Object.defineProperty({}, 'type', {
        get() {
          throw new Error('boom');
        },
      }),
      /record #3 .*threw \(boom\)/,
    ],
  ];
  it.each(notRecords)('refuses a record with %s, naming its position', async (_what, bad, why) => {
    const replay = replayOf([[meta('1.0'), { type: 'a' }], [bad]]);
    await expect(replay).rejects.toBeInstanceOf(RecordsInvalidError);
    await expect(replay).rejects.toThrow(why);
  });

  it('accepts an odd record that is one (a class instance with a type, a negative zero time)', async () => {
    class Step {
      type = 'step';
      time = -0;
    }
    const { seen } = await replayOf([[meta('1.0'), new Step()]]);
    expect(seen).toEqual([
      ['metadata', 5],
      ['step', -0],
    ]);
  });

  it('refuses a log whose first record is not metadata, even a valid record', async () => {
    await expect(replayOf([[{ type: 'a' }]])).rejects.toBeInstanceOf(RecordsVersionError);
    await expect(replayOf([[{ type: 'metadata' }]])).rejects.toThrow(/first record/);
  });

  it('wraps a restore that throws on a metadata record or on a record, with its position', async () => {
    const cause = new Error('broken');
    for (const [type, position] of [
      ['metadata', 3],
      ['b', 4],
    ] as const) {
      let calls = 0;
      const replay = replayOf(
        [
          [meta('1.0'), { type: 'a' }],
          [meta('1.0'), { type: 'b' }],
        ],
        {
          restore: (record: Rec) => {
            if (record.type === type && ++calls === (type === 'metadata' ? 2 : 1)) throw cause;
          },
        },
      );
      await expect(replay).rejects.toBeInstanceOf(RecordsReplayError);
      await expect(replay).rejects.toMatchObject({
        position,
        recordType: type,
        stage: 'restore',
        cause,
      });
    }
  });

  it('migrates each segment from its own version, and rewrites the log once at the current one', async () => {
    const persistence = storeOf([
      [meta('1.0', 1), { type: 'a', v: 0 }, { type: 'llm.request', v: 0 }],
      [meta('1.1', 2), { type: 'b', v: 1 }],
      [meta('1.2', 3), { type: 'c', v: 2 }],
    ]);
    const seen: Array<[string, unknown]> = [];
    const bump = (from: string, to: string) => ({
      sourceVersion: from,
      targetVersion: to,
      migrateRecord: (r: Rec) => ({ ...r, v: (r.v as number) + 1 }),
    });
    const records = new AgentRecords<Rec>({
      persistence,
      protocolVersion: '1.2',
      migrations: [bump('1.0', '1.1'), bump('1.1', '1.2')],
      restore: (record) => seen.push([record.type, record.v]),
    });
    expect(await records.replay()).toMatchObject({
      records: 6,
      fromVersion: '1.0',
      migrated: true,
    });
    expect(seen).toEqual([
      ['metadata', undefined],
      ['a', 2],
      ['metadata', undefined],
      ['b', 2],
      ['metadata', undefined],
      ['c', 2],
    ]);
    expect(persistence.rewritten?.map((r) => [r.type, r.v])).toEqual([
      ['metadata', undefined],
      ['a', 2],
      ['llm.request', 2],
      ['b', 2],
      ['c', 2],
    ]);
  });
});
