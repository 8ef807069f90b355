// Replay of N records: ours (readBatches) against the fastest plain reader (1 MiB chunk reads
// into one reused buffer, one UTF-8 decode per chunk cut at its last newline, split, JSON.parse;
// the bench's `fast-sync`, no byte offsets), interleaved, medians of the rounds. Each measurement
// runs in a fresh process (cold, as a CLI or a resuming host reads), with its peak RSS.
//   node packages/fs-persistence/scripts/measure-replay.mjs [records] [rounds]
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { FileSystemAgentRecordPersistence } from '../dist/index.js';

const worker = process.argv[2] === '--worker' ? process.argv.slice(3) : null;
if (worker) {
  const [name, at, expected] = worker;
  const start = process.hrtime.bigint();
  const records = name === 'ours' ? await ours(at) : fastSync(at);
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  if (records !== Number(expected)) throw new Error(`${name} read ${records} of ${expected}`);
  console.log(JSON.stringify({ ms, rssMb: process.resourceUsage().maxRSS / 1024 }));
  process.exit(0);
}
const count = Number(process.argv[2] ?? 100_000);
const rounds = Number(process.argv[3] ?? 7);
const root = fs.mkdtempSync(path.join(tmpdir(), 'measure-replay-'));
const file = path.join(root, 'log.jsonl');
const lines = [JSON.stringify({ type: 'metadata', protocol_version: '1.0', created_at: 1 })];
for (let i = 1; i < count; i++) {
  const kind = i % 3;
  lines.push(
    JSON.stringify(
      kind === 0
        ? { type: 'turn.prompt', turn_id: `t${i}`, content: `question ${i} `.repeat(8) }
        : kind === 1
          ? {
              type: 'llm.response',
              turn_id: `t${i}`,
              usage: { input: i, output: 2 * i },
              content: [{ type: 'text', text: 'answer é ✓ '.repeat(20) }],
            }
          : {
              type: 'tool.result',
              turn_id: `t${i}`,
              tool: 'bash',
              ok: true,
              output: 'line\n'.repeat(10),
            },
    ),
  );
}
fs.writeFileSync(file, `${lines.join('\n')}\n`);

function fastSync(file) {
  const fd = fs.openSync(file, 'r');
  const buffer = Buffer.allocUnsafe(1 << 20);
  let carry = '';
  let records = 0;
  for (;;) {
    const read = fs.readSync(fd, buffer, 0, buffer.length, null);
    if (read === 0) break;
    const last = buffer.lastIndexOf(10, read - 1);
    if (last === -1) {
      carry += buffer.toString('utf8', 0, read);
      continue;
    }
    const text = carry + buffer.toString('utf8', 0, last);
    carry = buffer.toString('utf8', last + 1, read);
    for (const line of text.split('\n')) {
      if (!line) continue;
      JSON.parse(line);
      records++;
    }
  }
  fs.closeSync(fd);
  return records;
}

async function ours(file) {
  const log = new FileSystemAgentRecordPersistence(file, { lock: false });
  let records = 0;
  for await (const batch of log.readBatches()) records += batch.length;
  return records;
}

const samples = { ours: [], 'fast-sync': [] };
try {
  for (let round = 0; round < rounds; round++) {
    for (const name of round % 2 ? ['ours', 'fast-sync'] : ['fast-sync', 'ours']) {
      const args = [import.meta.filename, '--worker', name, file, String(count)];
      samples[name].push(JSON.parse(execFileSync(process.execPath, args, { encoding: 'utf8' })));
    }
  }
  const median = (list, key) => list.map((s) => s[key]).sort((a, b) => a - b)[list.length >> 1];
  const mb = (fs.statSync(file).size / 1e6).toFixed(1);
  const [o, f] = [median(samples.ours, 'ms'), median(samples['fast-sync'], 'ms')];
  console.log(
    `${count} records (${mb} MB): ours ${o.toFixed(1)} ms (peak RSS ${median(samples.ours, 'rssMb').toFixed(0)} MB), ` +
      `fast-sync ${f.toFixed(1)} ms (${median(samples['fast-sync'], 'rssMb').toFixed(0)} MB), ratio ${(o / f).toFixed(2)}`,
  );
} finally {
  fs.rmSync(root, { recursive: true, force: true });
}
