// Case 9 (issue 15): the longest logRecord (and event-loop stall) while a snapshot of a large
// host state is taken and stored, against the stall of serialising that state at once.
import fs from 'node:fs';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { AgentRecords } from '@agent-records/core';
import { FileSystemAgentRecordPersistence } from '@agent-records/fs-persistence';
import { missingSnapshotCapabilities } from '../lib/generate.mjs';
import { yieldNow } from '../lib/measure.mjs';
import { makeRecord, makeRecords } from '../records.mjs';

const NEVER = Number.MAX_SAFE_INTEGER;

/** A host state of about `mb` MB of JSON: a history of realistic messages and counters. */
function bigState(mb) {
  const history = [];
  let bytes = 0;
  for (let i = 0; bytes < mb * 2 ** 20; i++) {
    const record = makeRecord(i);
    history.push(record);
    bytes += JSON.stringify(record).length + 1;
  }
  return {
    history,
    usage: { input: 123_456, output: 7_890, costUsd: 1.25 },
    turns: history.length / 4,
  };
}

export default {
  async 'snapshot-stall'({ impl, count: stateMB, file }) {
    const state = bigState(stateMB);
    const stateBytes = JSON.stringify(state).length;
    if (impl === 'stringify-at-once') {
      const start = performance.now();
      JSON.stringify(state);
      const ms = performance.now() - start;
      return { maxLogRecordMs: ms, maxStallMs: ms, ms, logged: 0, stateMB: stateBytes / 2 ** 20 };
    }
    const missing = missingSnapshotCapabilities();
    if (missing) return { skipped: missing };
    const warnings = [];
    const onError = (error) => warnings.push(String(error?.message ?? error));
    const persistence = new FileSystemAgentRecordPersistence(file, { onError });
    const records = new AgentRecords({
      persistence,
      protocolVersion: '1.0',
      onError,
      snapshots: {
        take: () => state,
        restore: () => {},
        version: 1,
        everyRecords: NEVER,
        everyBytes: NEVER,
      },
    });
    await records.replay(); // a new session: the core learns the log is empty
    const data = makeRecords(1_000);
    for (const record of data) records.logRecord(record);
    await records.flush();

    // Building the state left garbage: collect it now so the window measures the snapshot only.
    global.gc?.();
    // The host keeps logging (a few records per event-loop turn) until the snapshot is stored.
    const loop = monitorEventLoopDelay({ resolution: 1 });
    loop.enable();
    const start = performance.now();
    let maxLogRecordMs = 0;
    let logged = 0;
    const time = (call) => {
      const t = performance.now();
      call();
      maxLogRecordMs = Math.max(maxLogRecordMs, performance.now() - t);
    };
    time(() => records.snapshot());
    let stored = false;
    const flushed = records.flush().then(() => {
      stored = true;
    });
    while (!stored) {
      for (let i = 0; i < 5; i++) time(() => records.logRecord(data[logged++ % data.length]));
      await yieldNow();
    }
    await flushed;
    const ms = performance.now() - start;
    loop.disable();
    await records.flush();
    const snapshot = await persistence.readSnapshot();
    await persistence.close();
    fs.rmSync(file, { force: true });
    if (!snapshot || snapshot.bytes < stateBytes)
      throw new Error(`the snapshot was not stored: ${warnings.join('; ') || 'no warning'}`);
    return {
      maxLogRecordMs,
      maxStallMs: loop.max / 1e6,
      ms,
      logged,
      stateMB: stateBytes / 2 ** 20,
      snapshotMB: snapshot.bytes / 2 ** 20,
    };
  },
};
