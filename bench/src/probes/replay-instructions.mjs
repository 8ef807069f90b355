// Instructions the main thread runs to replay the bench's 100k-record log once, cold, through
// each layer: a figure that repeats to ~0.02% from run to run of one build, where the replay
// case's milliseconds move by 5-10% on this machine. Net of a process that only imports.
//
//   node bench/src/probes/replay-instructions.mjs [count]
//
// Each figure is one fresh `valgrind --tool=callgrind --separate-threads=yes` process; only the
// main thread is counted, because V8's optimising compiles and libuv's reads run on other threads
// (on a two-core machine, beside the main thread, not in its way). `cachegrind` with
// `--single-threaded` moves the compiles onto the main thread and so overweights them.
//   none    imports what the others import, reads nothing
//   ahead   the bench's `fast-async-ahead-256k`: reads ahead, each record to a function
//   fs      our file backend's `readBatches()`, records counted
//   core    core + fs with no `restore` option
//   ours    core + fs, each record to a host `restore` (what the replay case measures)
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { AgentRecords } from '@agent-records/core';
import { FileSystemAgentRecordPersistence } from '@agent-records/fs-persistence';
import { fastReadAhead, limitWrite } from '../baselines.mjs';
import { makeRecords } from '../records.mjs';

const LAYERS = ['none', 'ahead', 'fs', 'core', 'ours'];
const [countArg = '100000', role, layer, file] = process.argv.slice(2);

if (role === 'child') await replayOnce(layer, file);
else measureAll(Number(countArg));

function measureAll(count) {
  if (spawnSync('valgrind', ['--version']).status !== 0) {
    console.log('skipped: valgrind is not installed');
    return;
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'replay-instructions-'));
  try {
    const log = path.join(dir, 'log.jsonl');
    limitWrite(log, [
      { type: 'metadata', protocol_version: '1.0', created_at: 1 },
      ...makeRecords(count),
    ]);
    const main = Object.fromEntries(
      LAYERS.map((name) => [name, mainThreadInstructions(name, log, dir)]),
    );
    const net = (name) => main[name] - main.none;
    console.log(`${count} records, main-thread instructions net of an import-only process:`);
    for (const name of LAYERS.slice(1)) {
      console.log(
        `  ${name.padEnd(6)} ${(net(name) / 1e6).toFixed(1).padStart(8)}M  ${(net(name) / net('ahead')).toFixed(3)}x ahead`,
      );
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** The main thread's instruction count of one child process replaying `log` through `name`. */
function mainThreadInstructions(name, log, dir) {
  const out = path.join(dir, `${name}.callgrind`);
  const self = fileURLToPath(import.meta.url);
  const run = spawnSync(
    'valgrind',
    [
      '--tool=callgrind',
      '--separate-threads=yes',
      `--callgrind-out-file=${out}`,
      process.execPath,
      '--hash-seed=42',
      '--random-seed=42',
      self,
      '0',
      'child',
      name,
      log,
    ],
    { encoding: 'utf8', maxBuffer: 64 * 2 ** 20 },
  );
  if (run.status !== 0) throw new Error(`valgrind failed for ${name}: ${run.stderr.slice(-2000)}`);
  // callgrind writes one file per thread, `<out>-01` being the main thread.
  const totals = /^totals: (\d+)$/m.exec(fs.readFileSync(`${out}-01`, 'utf8'));
  if (!totals) throw new Error(`no totals in ${out}-01`);
  return Number(totals[1]);
}

async function replayOnce(name, log) {
  let restored = 0;
  const count = () => {
    restored++;
  };
  if (name === 'ahead') await fastReadAhead(log, 256 << 10, count);
  else if (name === 'fs') {
    const persistence = new FileSystemAgentRecordPersistence(log, { lock: false });
    for await (const batch of persistence.readBatches()) restored += batch.length;
    await persistence.close();
  } else if (name === 'core' || name === 'ours') {
    const persistence = new FileSystemAgentRecordPersistence(log, { lock: false });
    const records = new AgentRecords({
      persistence,
      protocolVersion: '1.0',
      ...(name === 'ours' ? { restore: count } : {}),
    });
    await records.replay();
    await persistence.close();
  }
  // `none` reads nothing and `core` has no restore to count with; the others must see records.
  const counts = name === 'ahead' || name === 'fs' || name === 'ours';
  if (counts && restored === 0) throw new Error(`${name} replayed nothing`);
}
