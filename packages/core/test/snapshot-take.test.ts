import { InMemoryAgentRecordPersistence } from '@agent-records/memory-persistence';
import { describe, expect, it } from 'vitest';
import { Host, type Rec } from './snapshot-host.js';

/** Logs `a`, snapshots, logs `b`, flushed: then a resume and a full replay of that log. */
async function resumeAfterLiveSnapshot(take: (host: Host) => unknown) {
  const persistence = new InMemoryAgentRecordPersistence<Rec>();
  const writer: Host = new Host(persistence, { snapshots: { take: () => take(writer) } });
  await writer.records.replay();
  writer.add('a');
  writer.records.snapshot();
  writer.add('b'); // mutates the live state while the snapshot is being serialised
  await writer.records.flush();
  const resumed = new Host(persistence);
  await resumed.records.replay();
  const full = new Host(persistence, { snapshots: false });
  await full.records.replay();
  return { writer, resumed, full };
}

describe("the snapshot's state is the one take() gave", () => {
  it("a root toJSON runs inside take's step: the state as of take(), not of later", async () => {
    const { writer, resumed, full } = await resumeAfterLiveSnapshot((host) => ({
      toJSON: () => structuredClone(host.state),
    }));
    expect(resumed.restoredStates).toBe(1);
    expect(full.state.items).toEqual(['a', 'b']);
    expect(resumed.state.items).toEqual(['a', 'b']);
    expect(writer.warnings).toEqual([]);
  });

  it('a root toJSON that throws is a warning and no snapshot, as JSON.stringify would throw', async () => {
    const { writer, resumed } = await resumeAfterLiveSnapshot(() => ({
      toJSON: () => {
        throw new Error('not now');
      },
    }));
    expect(writer.warnings.map((w) => w.message).join()).toMatch(
      /could not be serialised.*not now/,
    );
    expect(resumed.restoredStates).toBe(0);
    expect(resumed.state.items).toEqual(['a', 'b']);
  });
});

describe('take() returning a shallow copy of a state the host mutates after logging', () => {
  // The pattern the spec prescribes (logRecord, then mutate) with take: () => ({ ...state }):
  // the nested array is shared with the live state, so it must be read at take(), not later.
  async function liveThenResume(prefill: unknown[], adds: number) {
    const persistence = new InMemoryAgentRecordPersistence<Rec>();
    const writer: Host = new Host(persistence, {
      snapshots: { take: () => ({ ...writer.state }), everyRecords: 10 },
    });
    await writer.records.replay();
    for (const value of prefill) writer.add(value);
    for (let i = 0; i < adds; i++) writer.add(`m${i}`);
    await writer.records.flush();
    const resumed = new Host(persistence);
    const result = await resumed.records.replay();
    return { writer, resumed, result };
  }

  it('a small state resumes equal to the live one (automatic snapshots every 10 records)', async () => {
    const { writer, resumed, result } = await liveThenResume([], 25);
    expect(result.fromSnapshot?.records).toBeGreaterThanOrEqual(10);
    expect(resumed.restoredStates).toBe(1);
    expect(resumed.state.items).toEqual(writer.state.items);
    expect(writer.warnings).toEqual([]);
  });

  it('a typical agent state (~200 KB of messages) resumes equal to the live one', async () => {
    const prefill = Array.from({ length: 400 }, (_, i) => `${i}:${'x'.repeat(500)}`);
    const { writer, resumed } = await liveThenResume(prefill, 25);
    expect(JSON.stringify(writer.state).length).toBeGreaterThan(200_000);
    expect(resumed.restoredStates).toBe(1);
    expect(resumed.state.items).toEqual(writer.state.items);
    expect(writer.warnings).toEqual([]);
  });
});
