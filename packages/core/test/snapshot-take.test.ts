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
