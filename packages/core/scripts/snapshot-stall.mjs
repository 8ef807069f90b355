// How long can logRecord stall while a large state is being snapshotted?
//   npx -y pnpm@10.34.9 --filter @agent-records/core --filter @agent-records/memory-persistence build
//   node packages/core/scripts/snapshot-stall.mjs [MB] [runs]
// Logs one record per event-loop turn (memory backend) while the core serialises a snapshot of a
// ~20 MB state and the backend stores it, and prints the longest logRecord call and the longest
// gap between two turns (the stall a live agent would feel), next to what one synchronous
// JSON.stringify of the state takes and the longest gap of the same loop with no snapshot (what
// the machine itself adds: GC, other processes).
import { performance } from 'node:perf_hooks';
import { InMemoryAgentRecordPersistence } from '../../memory-persistence/dist/index.js';
import { AgentRecords } from '../dist/index.js';

const megabytes = Number(process.argv[2] ?? 20);
const runs = Number(process.argv[3] ?? 5);

// ~megabytes of JSON: messages with text, numbers and nested parts, like an agent's history.
const state = { history: [], tokens: 0 };
let bytes = 2;
for (let i = 0; bytes < megabytes * 1024 * 1024; i++) {
  const message = {
    role: i % 2 ? 'assistant' : 'user',
    turn: i,
    parts: [{ type: 'text', text: `message ${i} `.repeat(12) }],
    usage: { input: i * 3, output: i * 2 },
  };
  bytes += JSON.stringify(message).length + 1;
  state.history.push(message);
}
Object.freeze(state.history);

const started = performance.now();
const syncText = JSON.stringify(state);
const syncMs = performance.now() - started;

/** Logs a record per event-loop turn until `done()`; the longest call and the longest gap. */
async function turns(records, done) {
  let longestCall = 0;
  let longestGap = 0;
  let count = 0;
  let last = performance.now();
  await new Promise((resolve) => {
    const turn = () => {
      const at = performance.now();
      longestGap = Math.max(longestGap, at - last);
      records.logRecord({ type: 'turn.prompt', turn_id: `t${count}`, content: 'hello' });
      const after = performance.now();
      longestCall = Math.max(longestCall, after - at);
      last = after;
      count++;
      if (done()) resolve();
      else setImmediate(turn);
    };
    setImmediate(turn);
  });
  return { longestCall, longestGap, count };
}

/**
 * The core's share alone: a persistence that keeps records and, for a snapshot, only awaits the
 * data (never reads it whole, so the text stays as the core made it: linked chunks).
 */
class DataOnlyPersistence extends InMemoryAgentRecordPersistence {
  #snapshot = null;
  #pending = [];
  writeSnapshot({ records, data }) {
    const position = { index: this.records.length, generation: 0 };
    this.#pending.push(
      Promise.resolve(data).then((text) => {
        this.#snapshot = {
          position,
          records,
          data: text,
          bytes: Buffer.byteLength(text),
          writtenAt: Date.now(),
        };
      }),
    );
  }
  async readSnapshot() {
    return this.#snapshot;
  }
  async flush() {
    await super.flush();
    await Promise.allSettled(this.#pending);
  }
}

for (const [backend, Persistence] of [
  ['core only (data awaited, not read)', DataOnlyPersistence],
  ['memory backend (end to end)', InMemoryAgentRecordPersistence],
]) {
  const results = [];
  for (let run = 0; run < runs; run++) {
    const persistence = new Persistence();
    const records = new AgentRecords({
      persistence,
      protocolVersion: '1.0',
      snapshots: { take: () => state, restore: () => {}, everyRecords: Number.POSITIVE_INFINITY },
    });
    await records.replay();
    records.logRecord({ type: 'turn.prompt', turn_id: 't0', content: 'start' });
    await records.flush();

    const snapshotStarted = performance.now();
    records.snapshot();
    let stored = false;
    const flushed = records.flush().then(() => {
      stored = true;
    });
    const during = await turns(records, () => stored);
    await flushed;
    const snapshotMs = performance.now() - snapshotStarted;
    const snapshot = await persistence.readSnapshot();
    // The same loop for as long, with no snapshot: the machine's own noise.
    const quietUntil = performance.now() + snapshotMs;
    const quiet = await turns(records, () => performance.now() >= quietUntil);
    results.push({
      snapshotMB: +((snapshot?.bytes ?? 0) / 1024 / 1024).toFixed(1),
      snapshotMs: +snapshotMs.toFixed(0),
      recordsLoggedMeanwhile: during.count,
      longestLogRecordMs: +during.longestCall.toFixed(2),
      longestGapMs: +during.longestGap.toFixed(1),
      longestGapWithoutSnapshotMs: +quiet.longestGap.toFixed(1),
    });
    if (Persistence === DataOnlyPersistence && run === 0) {
      // What any consumer pays to read the text whole once (make it flat, count its bytes).
      const started = performance.now();
      Buffer.byteLength(snapshot.data);
      const ms = performance.now() - started;
      console.log(
        `first whole read of the text (flatten + Buffer.byteLength): ${ms.toFixed(1)} ms`,
      );
    }
    await records.close();
  }
  console.log(`\n${backend}:`);
  console.table(results);
  const gaps = results.map((r) => r.longestGapMs).sort((a, b) => a - b);
  console.log(
    `longest gap while snapshotting: median ${gaps[Math.floor(gaps.length / 2)]} ms, max ${gaps.at(-1)} ms`,
  );
}
console.log(
  `\nstate ${(syncText.length / 1024 / 1024).toFixed(1)} MB; one JSON.stringify of it: ${syncMs.toFixed(1)} ms`,
);
