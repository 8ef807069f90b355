// Times `agent-records sessions` over a store of N sessions (default 20,000 small logs written
// through the fs backend's writer, so each has its summary; mtimes spread out): the first page
// of 50, and a page of 50 after a session in the middle (`--after`). Not a test (speed targets
// live in bench/): a figure for the report. Run after `pnpm --filter @agent-records/cli build`.
//   node packages/cli/scripts/measure-sessions.mjs [sessions] [runs]
import { mkdtempSync, rmSync, utimesSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { FileSystemAgentRecordStore } from '@agent-records/fs-persistence';
import { main } from '../dist/index.js';

const sessions = Number(process.argv[2] ?? 20_000);
const runs = Number(process.argv[3] ?? 5);
const root = mkdtempSync(path.join(tmpdir(), 'measure-sessions-'));
const sink = () =>
  new Writable({
    write(_chunk, _encoding, done) {
      done();
    },
  });
const io = { out: sink(), err: sink(), isTTY: false, env: {} };

async function time(argv) {
  const times = [];
  for (let i = 0; i < runs; i++) {
    const start = performance.now();
    const code = await main(argv, io);
    times.push(performance.now() - start);
    if (code !== 0) throw new Error(`exit ${code}`);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)].toFixed(1);
}

try {
  const store = new FileSystemAgentRecordStore(root, { lock: false });
  const now = Date.now();
  for (let i = 0; i < sessions; i += 100) {
    await Promise.all(
      Array.from({ length: Math.min(100, sessions - i) }, async (_, k) => {
        const id = `session-${String(i + k).padStart(6, '0')}`;
        const writer = store.open(id);
        writer.append({ type: 'metadata', protocol_version: '1.0', created_at: now });
        writer.append({ type: 'turn.prompt', turn_id: 't1', content: 'hello' });
        if ((i + k) % 3 === 0) writer.setTitle(`Session ${i + k}`);
        await writer.close();
        const when = new Date(now - (i + k) * 1000);
        utimesSync(store.fileOf(id), when, when);
      }),
    );
  }
  const middle = `session-${String(Math.floor(sessions / 2)).padStart(6, '0')}`;
  console.log(`${sessions} sessions, median of ${runs} runs:`);
  console.log(
    `  sessions --limit 50                 ${await time(['sessions', '--limit', '50', root])} ms`,
  );
  console.log(
    `  sessions --limit 50 --after <middle> ${await time(['sessions', '--limit', '50', '--after', middle, root])} ms`,
  );
  console.log(`  sessions (all, table)               ${await time(['sessions', root])} ms`);
} finally {
  rmSync(root, { recursive: true, force: true });
}
