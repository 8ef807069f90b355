// Which functions V8 optimises during the durable case's steady window (after the 2,000th
// append), and how long each compile took: the cause of the durable p99 tail on two cores
// (docs/decisions.md 12). The counts repeat from run to run of one build, unlike the latencies.
//
//   node bench/src/probes/durable-compiles.mjs [ours|naive|odsync] [runs]
//
// Each run is a fresh `node --trace-opt` process appending the bench's records one durable
// append at a time (a warm-up record, 2,000 cold, 2,000 steady), as the durable case does.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { NaiveAppender } from '../baselines.mjs';
import { oursFs } from '../lib/measure.mjs';
import { makeRecords } from '../records.mjs';

const COUNT = 2_000;
const [impl = 'ours', runs = '3', role] = process.argv.slice(2);

if (role === 'child') await appendDurably(impl);
else for (let run = 0; run < Number(runs); run++) console.log(summarise(traceOneRun(impl)));

/** One run under `--trace-opt`: its output, with a mark every 100 appends. */
function traceOneRun(which) {
  const self = fileURLToPath(import.meta.url);
  const child = spawnSync(process.execPath, ['--trace-opt', self, which, '1', 'child'], {
    encoding: 'utf8',
    maxBuffer: 64 * 2 ** 20,
  });
  if (child.status !== 0) throw new Error(`the probe failed: ${child.stderr}`);
  return child.stdout;
}

/** The compiles after the mark of append 2,000: count, milliseconds and `at:name`. */
function summarise(trace) {
  let at = -1;
  const late = [];
  for (const line of trace.split('\n')) {
    const mark = /^APPEND (\d+)$/.exec(line);
    if (mark) at = Number(mark[1]);
    const done = /completed compiling .*<JSFunction ([^>]*?) ?\(sfi.*took [\d.]+, ([\d.]+),/.exec(
      line,
    );
    if (done && at >= COUNT) late.push({ at, name: done[1] || '(anonymous)', ms: Number(done[2]) });
  }
  const ms = late.reduce((sum, compile) => sum + compile.ms, 0);
  const names = late.map((compile) => `${compile.at}:${compile.name}`).join(' ');
  return `${impl}: ${late.length} compiles after append ${COUNT}, ${ms.toFixed(1)} ms: ${names}`;
}

async function appendDurably(which) {
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'compiles-')), 'log.jsonl');
  const data = makeRecords(2 * COUNT);
  let once;
  let close;
  if (which === 'ours') {
    const { records, persistence } = oursFs(file);
    records.logRecord({ type: 'warmup' });
    await records.flush();
    once = (i) => {
      records.logRecord(data[i]);
      return records.flush();
    };
    close = () => persistence.close();
  } else if (which === 'naive') {
    const appender = new NaiveAppender(file);
    appender.appendLine('{"type":"warmup"}\n');
    once = (i) => appender.appendLine(`${JSON.stringify(data[i])}\n`);
    close = () => appender.close();
  } else if (which === 'odsync') {
    const { O_WRONLY, O_APPEND, O_CREAT, O_DSYNC } = fs.constants;
    const fd = fs.openSync(file, O_WRONLY | O_APPEND | O_CREAT | O_DSYNC, 0o600);
    const write = (line) =>
      new Promise((resolve, reject) =>
        fs.write(fd, line, (error) => (error ? reject(error) : resolve())),
      );
    await write('{"type":"warmup"}\n');
    once = (i) => write(`${JSON.stringify(data[i])}\n`);
    close = () => fs.closeSync(fd);
  } else throw new Error(`unknown implementation ${which}: ours, naive or odsync`);
  for (let i = 0; i < 2 * COUNT; i++) {
    if (i % 100 === 0) fs.writeSync(1, `APPEND ${i}\n`); // not console.log: no JS of its own
    await once(i);
  }
  await close();
  fs.rmSync(path.dirname(file), { recursive: true, force: true });
}
