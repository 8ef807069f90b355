// Times FileSystemAgentRecordStore.list() over a store of N sessions (default 20,000), each a
// small log with the summary file the writer keeps, mtimes spread out: the whole list, then the
// first page of 50. Not a test (speed targets live in bench/): a figure for the README.
//   node packages/fs-persistence/scripts/measure-list.mjs [sessions] [runs]
import { mkdtempSync, readdirSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { FileSystemAgentRecordStore } from '../dist/index.js';

const sessions = Number(process.argv[2] ?? 20_000);
const runs = Number(process.argv[3] ?? 7);
const root = mkdtempSync(path.join(tmpdir(), 'measure-list-'));
try {
  const now = Date.now();
  for (let i = 0; i < sessions; i++) {
    const file = path.join(root, `session-${String(i).padStart(6, '0')}.jsonl`);
    const records = 1 + (i % 40);
    let text = `{"type":"metadata","protocol_version":"1.0","created_at":${now - i * 1000}}\n`;
    for (let n = 1; n < records; n++)
      text += `{"type":"turn.prompt","turn_id":"t${n}","content":"hello"}\n`;
    writeFileSync(file, text, { mode: 0o600 });
    const info = statSync(file);
    const summary = {
      format: 'agent-records-summary',
      version: 1,
      createdAt: now - i * 1000,
      updatedAt: now,
      records,
      bytes: info.size,
      ...(i % 3 === 0 && { title: `Session ${i}` }),
      log: '',
      ino: info.ino,
    };
    writeFileSync(`${file}.summary.json`, `${JSON.stringify(summary)}\n`, { mode: 0o600 });
    const seconds = (now - Math.floor(Math.random() * 30 * 86_400_000)) / 1000;
    utimesSync(file, seconds, seconds);
  }
  const store = new FileSystemAgentRecordStore(root);
  const time = async (options) => {
    const times = [];
    let count = 0;
    for (let run = 0; run < runs; run++) {
      const start = process.hrtime.bigint();
      count = (await store.list(options)).length;
      times.push(Number(process.hrtime.bigint() - start) / 1e6);
    }
    times.sort((a, b) => a - b);
    return { count, median: times[Math.floor(times.length / 2)], min: times[0], max: times.at(-1) };
  };
  // The floor of any listing by last activity, timed the same way: readdir and a stat per log.
  const floor = await (async () => {
    const times = [];
    for (let run = 0; run < runs; run++) {
      const start = process.hrtime.bigint();
      for (const name of readdirSync(root)) {
        if (name.endsWith('.jsonl')) statSync(path.join(root, name));
      }
      times.push(Number(process.hrtime.bigint() - start) / 1e6);
    }
    times.sort((a, b) => a - b);
    return {
      count: sessions,
      median: times[Math.floor(times.length / 2)],
      min: times[0],
      max: times.at(-1),
    };
  })();
  const all = await time({});
  const page = await time({ limit: 50 });
  const fmt = (t) =>
    `median ${t.median.toFixed(1)} ms (min ${t.min.toFixed(1)}, max ${t.max.toFixed(1)})`;
  console.log(`floor (readdir + statSync of every log): ${fmt(floor)}`);
  console.log(`list() of ${all.count} sessions: ${fmt(all)} over ${runs} runs`);
  console.log(`list({ limit: 50 }) -> ${page.count}: ${fmt(page)} over ${runs} runs`);
} finally {
  rmSync(root, { recursive: true, force: true });
}
