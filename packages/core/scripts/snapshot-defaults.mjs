// What a replayed record costs, to choose snapshots.everyRecords / everyBytes defaults.
//   npx -y pnpm@10.34.9 --filter @agent-records/core --filter @agent-records/fs-persistence build
//   node packages/core/scripts/snapshot-defaults.mjs
// Writes logs of small (~300 B) and large (~3 KB) records with the file-system backend, replays
// each through a host whose restore does typical work (append to its history, count tokens), and
// prints the cost per record and per MB, and what the tail behind a snapshot would cost at the
// defaults. A snapshot bounds a resume to parse(state) + tail; the defaults keep the tail's share
// to tens of milliseconds.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { FileSystemAgentRecordPersistence } from '../../fs-persistence/dist/index.js';
import { AgentRecords } from '../dist/index.js';

const EVERY_RECORDS = 10_000;
const EVERY_BYTES = 8 * 1024 * 1024;
const dir = mkdtempSync(join(tmpdir(), 'snapshot-defaults-'));

async function measure(label, count, contentLength) {
  const file = join(dir, `${label}.jsonl`);
  const writer = new AgentRecords({
    persistence: new FileSystemAgentRecordPersistence(file),
    protocolVersion: '1.0',
  });
  const content = 'x'.repeat(contentLength);
  for (let i = 0; i < count; i++) {
    writer.logRecord({ type: 'turn.prompt', turn_id: `t${i}`, content, tokens: i % 97 });
    if (i % 10_000 === 0) await writer.flush();
  }
  await writer.close();
  const bytesPerRecord = JSON.stringify({
    type: 'turn.prompt',
    turn_id: 't1000',
    content,
    tokens: 1,
    time: Date.now(),
  }).length;
  const best = [];
  for (let run = 0; run < 3; run++) {
    const history = [];
    let tokens = 0;
    const reader = new AgentRecords({
      persistence: new FileSystemAgentRecordPersistence(file),
      protocolVersion: '1.0',
      restore: (record) => {
        if (record.type !== 'turn.prompt') return;
        history.push({ role: 'user', content: record.content });
        tokens += record.tokens;
      },
    });
    const started = performance.now();
    await reader.replay();
    best.push(performance.now() - started);
    if (history.length !== count || tokens < 0) throw new Error('the replay restored too little');
    await reader.close();
  }
  const ms = Math.min(...best);
  const usPerRecord = (ms * 1000) / count;
  const mbPerSecond = (count * bytesPerRecord) / 1024 / 1024 / (ms / 1000);
  return {
    label,
    records: count,
    bytesPerRecord,
    replayMs: +ms.toFixed(0),
    usPerRecord: +usPerRecord.toFixed(2),
    mbPerSecond: +mbPerSecond.toFixed(0),
    tailAtEveryRecordsMs: +((EVERY_RECORDS * usPerRecord) / 1000).toFixed(0),
    tailAtEveryBytesMs: +((EVERY_BYTES / 1024 / 1024 / mbPerSecond) * 1000).toFixed(0),
  };
}

try {
  console.table([await measure('small', 100_000, 250), await measure('large', 20_000, 3_000)]);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
