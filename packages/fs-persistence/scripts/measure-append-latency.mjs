// Durable-append latency (append one record, await flush()) with the summary file on and off,
// interleaved in rounds (on, off, on, off...) so that a busy machine affects both alike. The
// summary is written after each batch, off the flush path: the two should not differ beyond noise.
//   node packages/fs-persistence/scripts/measure-append-latency.mjs [appends per round] [rounds]
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { FileSystemAgentRecordPersistence } from '../dist/index.js';

const perRound = Number(process.argv[2] ?? 500);
const rounds = Number(process.argv[3] ?? 6);
const root = mkdtempSync(path.join(tmpdir(), 'measure-append-'));
const samples = { on: [], off: [] };
try {
  for (let round = 0; round < rounds; round++) {
    for (const mode of round % 2 === 0 ? ['on', 'off'] : ['off', 'on']) {
      const file = path.join(root, `${mode}-${round}.jsonl`);
      const log = new FileSystemAgentRecordPersistence(file, { summary: mode === 'on' });
      log.append({ type: 'metadata', protocol_version: '1.0', created_at: Date.now() });
      await log.flush();
      for (let i = 0; i < perRound; i++) {
        const start = process.hrtime.bigint();
        log.append({ type: 'turn.prompt', turn_id: `t${i}`, content: 'x'.repeat(200) });
        await log.flush();
        samples[mode].push(Number(process.hrtime.bigint() - start) / 1e6);
      }
      await log.close();
    }
  }
  const at = (sorted, q) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
  for (const mode of ['on', 'off']) {
    const sorted = samples[mode].sort((a, b) => a - b);
    console.log(
      `summary ${mode.padEnd(3)}: ${sorted.length} durable appends, p50 ${at(sorted, 0.5).toFixed(3)} ms, ` +
        `p90 ${at(sorted, 0.9).toFixed(3)} ms, p99 ${at(sorted, 0.99).toFixed(3)} ms`,
    );
  }
} finally {
  rmSync(root, { recursive: true, force: true });
}
