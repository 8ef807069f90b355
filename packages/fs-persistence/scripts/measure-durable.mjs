// Durable append (one record, durable before the next) against the fastest ways to do the same
// in this process, interleaved in rounds so that a busy machine affects all alike:
//   ours, ours-nosummary: append + flush() (summary file on / off)
//   odsync-async:   one fs.write on an O_DSYNC descriptor (one thread-pool round trip)
//   fdatasync-async: fs.write then fs.fdatasync (two round trips)
//   naive:          appendFileSync + fsyncSync (blocks the event loop)
// Every variant stringifies inside the timed call, as ours does.
//   node packages/fs-persistence/scripts/measure-durable.mjs [appends per round] [rounds]
import fs from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { FileSystemAgentRecordPersistence } from '../dist/index.js';

const perRound = Number(process.argv[2] ?? 1000);
const rounds = Number(process.argv[3] ?? 5);
const root = fs.mkdtempSync(path.join(tmpdir(), 'measure-durable-'));
const record = (i) => ({ type: 'turn.prompt', turn_id: `t${i}`, content: 'x'.repeat(200) });
const call = (run) => new Promise((ok, ko) => run((e, v) => (e ? ko(e) : ok(v))));

const variants = {
  async ours(file, summary = true) {
    const log = new FileSystemAgentRecordPersistence(file, { summary });
    log.append({ type: 'metadata', protocol_version: '1.0', created_at: Date.now() });
    await log.flush();
    return {
      step: async (i) => {
        log.append(record(i));
        await log.flush();
      },
      end: () => log.close(),
    };
  },
  'ours-nosummary': (file) => variants.ours(file, false),
  async 'odsync-async'(file) {
    const fd = fs.openSync(
      file,
      fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_DSYNC,
      0o600,
    );
    let at = 0;
    return {
      step: async (i) => {
        const buffer = Buffer.from(`${JSON.stringify(record(i))}\n`);
        await call((done) => fs.write(fd, buffer, 0, buffer.length, at, done));
        at += buffer.length;
      },
      end: () => fs.closeSync(fd),
    };
  },
  async 'fdatasync-async'(file) {
    const fd = fs.openSync(file, 'w', 0o600);
    let at = 0;
    return {
      step: async (i) => {
        const buffer = Buffer.from(`${JSON.stringify(record(i))}\n`);
        await call((done) => fs.write(fd, buffer, 0, buffer.length, at, done));
        await call((done) => fs.fdatasync(fd, done));
        at += buffer.length;
      },
      end: () => fs.closeSync(fd),
    };
  },
  async naive(file) {
    return {
      step: async (i) => {
        fs.appendFileSync(file, `${JSON.stringify(record(i))}\n`);
        const fd = fs.openSync(file, 'r');
        fs.fsyncSync(fd);
        fs.closeSync(fd);
      },
      end: () => {},
    };
  },
};
const names = (process.env.VARIANTS ?? Object.keys(variants).join(',')).split(',');
const samples = Object.fromEntries(names.map((name) => [name, []]));
try {
  for (let round = 0; round < rounds; round++) {
    const order = round % 2 === 0 ? names : [...names].reverse();
    for (const name of order) {
      const file = path.join(root, `${name}-${round}.jsonl`);
      const subject = await variants[name](file);
      for (let i = 0; i < perRound; i++) {
        const start = process.hrtime.bigint();
        await subject.step(i);
        samples[name].push(Number(process.hrtime.bigint() - start) / 1e6);
      }
      await subject.end();
    }
  }
  const at = (sorted, q) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
  for (const name of names) {
    const sorted = samples[name].sort((a, b) => a - b);
    console.log(
      `${name.padEnd(16)} n=${sorted.length} p50 ${at(sorted, 0.5).toFixed(3)} ms  p90 ${at(sorted, 0.9).toFixed(3)} ms  ` +
        `p99 ${at(sorted, 0.99).toFixed(3)} ms  max ${sorted[sorted.length - 1].toFixed(3)} ms`,
    );
  }
} finally {
  fs.rmSync(root, { recursive: true, force: true });
}
