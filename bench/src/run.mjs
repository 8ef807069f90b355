// pnpm bench [--quick] [--runs N] [--dir DIR] [--out FILE]
// Runs every case in fresh worker processes, several times, and reports min/median/max of each
// figure next to its baselines from the same run.
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    runs: { type: 'string' },
    dir: { type: 'string' },
    out: { type: 'string' },
  },
});
const quick = values.quick;
const runs = Number(values.runs ?? (quick ? 2 : 5));
const here = path.dirname(fileURLToPath(import.meta.url));
const out = values.out ?? path.join(here, '..', 'results.json');
const workDir = fs.mkdtempSync(path.join(values.dir ?? os.tmpdir(), 'agent-records-bench-'));

const N = quick
  ? {
      batched: 2_000,
      durable: 100,
      concurrent: 200,
      replay: 2_000,
      replayLarge: 20_000,
      rewrite: 2_000,
      rewriteLarge: 20_000,
      blobs: 100,
    }
  : {
      batched: 100_000,
      durable: 2_000,
      concurrent: 2_000,
      replay: 100_000,
      replayLarge: 1_000_000,
      rewrite: 100_000,
      rewriteLarge: 1_000_000,
      blobs: 1_000,
    };

// PostgreSQL rows join the table when the local server answers (AGENT_RECORDS_PG_URL).
const pgUrl = process.env.AGENT_RECORDS_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const pgSchema = `agent_records_bench_${process.pid}`;
const psql = (sql) => spawnSync('psql', [pgUrl, '-qAtc', sql], { encoding: 'utf8' }).stdout?.trim();
const pgReachable = psql('SELECT 1') === '1';
if (!pgReachable)
  process.stderr.write(`PostgreSQL not reachable at ${pgUrl}: its rows are left out\n`);
const withPg = (impls) => (pgReachable ? [...impls, 'pg'] : impls);

const plan = [
  ['batched', N.batched, withPg(['limit', 'ours', 'reference', 'memory'])],
  [
    'durable',
    N.durable,
    withPg([
      'fdatasync-sync',
      'fdatasync-async',
      'ours',
      'reference',
      'naive',
      'open-write-fsync-close',
      'memory',
    ]),
  ],
  ['concurrent', N.concurrent, ['ours', 'reference']],
  ['replay', N.replay, withPg(['limit', 'ours', 'reference'])],
  ['replay-large', N.replayLarge, ['ours']],
  ['rewrite', N.rewrite, ['limit', 'ours', 'reference']],
  ['rewrite-large', N.rewriteLarge, ['ours', 'reference']],
  ['blobs', N.blobs, ['inline', 'blobs']],
];

function worker(kase, impl, count, sharedLog) {
  const args = [kase, impl, String(count), workDir, ...(sharedLog ? [sharedLog] : [])];
  const result = spawnSync(
    process.execPath,
    ['--expose-gc', path.join(here, 'worker.mjs'), ...args],
    {
      encoding: 'utf8',
      maxBuffer: 1 << 20,
      env: { ...process.env, AGENT_RECORDS_PG_URL: pgUrl, AGENT_RECORDS_BENCH_SCHEMA: pgSchema },
    },
  );
  if (result.status !== 0) {
    throw new Error(`${kase}/${impl} failed (${result.status}): ${result.stderr}`);
  }
  return JSON.parse(result.stdout.trim().split('\n').at(-1));
}

function summarise(samples) {
  const summary = {};
  for (const key of Object.keys(samples[0])) {
    const numbers = samples.map((s) => s[key]).filter((v) => typeof v === 'number');
    if (numbers.length !== samples.length) {
      summary[key] = samples[0][key];
      continue;
    }
    const sorted = [...numbers].sort((a, b) => a - b);
    summary[key] = {
      min: sorted[0],
      median: sorted[Math.floor(sorted.length / 2)],
      max: sorted.at(-1),
    };
  }
  return summary;
}

function diskType(dir) {
  try {
    const lines = execFileSync('df', ['-T', dir], { encoding: 'utf8' }).trim().split('\n');
    const [device, type] = lines.at(-1).split(/\s+/);
    return `${type} (${device})`;
  } catch {
    return 'unknown';
  }
}

const results = {
  date: new Date().toISOString(),
  mode: quick ? 'quick' : 'full',
  runs,
  machine: {
    cpu: os.cpus()[0]?.model,
    cores: os.cpus().length,
    memoryGB: Math.round(os.totalmem() / 2 ** 30),
    platform: `${os.platform()} ${os.release()}`,
    node: process.version,
    disk: diskType(workDir),
    postgres: pgReachable ? psql('SHOW server_version') : null,
    dir: workDir,
  },
  n: N,
  cases: {},
};

let failures = 0;
try {
  for (const [kase, count, impls] of plan) {
    results.cases[kase] = { records: count, implementations: {} };
    let sharedLog;
    if (kase.startsWith('replay')) {
      sharedLog = path.join(workDir, `${kase}.jsonl`);
      worker('prepare', 'limit', count, sharedLog);
      if (impls.includes('pg')) worker('prepare-pg', 'pg', count);
    }
    const perImplLog = kase === 'blobs';
    for (const impl of impls) {
      const samples = [];
      let log = sharedLog;
      if (perImplLog) log = path.join(workDir, `${kase}-${impl}.jsonl`);
      try {
        if (perImplLog) worker('prepare-blobs', impl, count, log);
        for (let run = 0; run < runs; run++) samples.push(worker(kase, impl, count, log));
      } catch (error) {
        // One failing case must not lose the others' figures: record it and go on.
        results.cases[kase].implementations[impl] = { error: String(error.message).split('\n')[0] };
        failures++;
        process.stderr.write(`  ${kase}/${impl} FAILED: ${error.message}\n`);
        continue;
      }
      results.cases[kase].implementations[impl] = summarise(samples);
      process.stderr.write(`  ${kase}/${impl} done\n`);
    }
  }
} finally {
  fs.rmSync(workDir, { recursive: true, force: true });
  if (pgReachable) psql(`DROP SCHEMA IF EXISTS "${pgSchema}" CASCADE`);
}

// ---- Report ----
const med = (kase, impl, key) => results.cases[kase]?.implementations[impl]?.[key]?.median;
const fmt = (value, digits = 1) =>
  typeof value === 'number' ? value.toFixed(digits) : String(value ?? '-');
const range = (figure, digits = 1) =>
  figure && typeof figure === 'object'
    ? `${fmt(figure.median, digits)} (${fmt(figure.min, digits)}-${fmt(figure.max, digits)})`
    : fmt(figure, digits);

const lines = [];
lines.push(
  `agent-records bench (${results.mode}, ${runs} runs each, median (min-max)); ${results.machine.cpu}, ${results.machine.cores} cores, node ${results.machine.node}, disk ${results.machine.disk}`,
);
const table = (title, kase, columns) => {
  lines.push('', `${title} [${results.cases[kase].records} records]`);
  lines.push(['implementation', ...columns.map(([label]) => label)].join(' | '));
  for (const [impl, figures] of Object.entries(results.cases[kase].implementations)) {
    lines.push(
      [impl, ...columns.map(([, key, digits]) => range(figures[key], digits))].join(' | '),
    );
  }
};
table('1. batched append', 'batched', [
  ['ms', 'ms'],
  ['records/s', 'recordsPerSec', 0],
  ['MB/s', 'mbPerSec'],
  ['max stall ms', 'maxStallMs'],
  ['RSS growth MB', 'rssGrowthMB'],
]);
table('2. durable append (flush after each)', 'durable', [
  ['p50 ms', 'p50Ms', 3],
  ['p99 ms', 'p99Ms', 3],
]);
table('3. 8 concurrent durable producers', 'concurrent', [
  ['records/s', 'recordsPerSec', 0],
  ['fsyncs/record', 'fsyncsPerRecord', 3],
]);
table('4. replay', 'replay', [
  ['ms', 'ms'],
  ['records/s', 'recordsPerSec', 0],
  ['MB/s', 'mbPerSec'],
  ['peak RSS MB', 'rssPeakMB'],
  ['max stall ms', 'maxStallMs'],
]);
table('4b. replay, large log (memory must not grow)', 'replay-large', [
  ['ms', 'ms'],
  ['peak RSS MB', 'rssPeakMB'],
  ['RSS growth MB', 'rssGrowthMB'],
]);
table('5. rewrite, durable', 'rewrite', [
  ['ms', 'ms'],
  ['records/s', 'recordsPerSec', 0],
  ['max stall ms', 'maxStallMs'],
  ['error', 'error'],
]);
table('5b. rewrite, large', 'rewrite-large', [
  ['ms', 'ms'],
  ['max stall ms', 'maxStallMs'],
  ['RSS growth MB', 'rssGrowthMB'],
  ['error', 'error'],
]);
table('6. large payloads: 1 in 10 records carries a 1 MB image (replay)', 'blobs', [
  ['log MB', 'logMB'],
  ['blob MB', 'blobMB'],
  ['replay ms', 'ms'],
  ['peak RSS MB', 'rssPeakMB'],
]);

const ratio = (a, b) =>
  typeof a === 'number' && typeof b === 'number' && b > 0 ? a / b : undefined;
const batchedBytes = med('batched', 'ours', 'bytes');
const targets = [
  [
    'batched append throughput, limit/ours time (>= 0.75)',
    ratio(med('batched', 'limit', 'ms'), med('batched', 'ours', 'ms')),
    (v) => v >= 0.75,
  ],
  [
    'batched append, reference/ours time (> 1: faster than the reference)',
    ratio(med('batched', 'reference', 'ms'), med('batched', 'ours', 'ms')),
    (v) => v > 1,
  ],
  [
    'batched append, longest event-loop stall ms (<= 20)',
    med('batched', 'ours', 'maxStallMs'),
    (v) => v <= 20,
  ],
  [
    'batched append, RSS growth / bytes written (<= 3)',
    ratio(med('batched', 'ours', 'rssGrowthMB') * 2 ** 20, batchedBytes),
    (v) => v <= 3,
  ],
  [
    'durable p50, ours / one fdatasync (sync call) (<= 1.3)',
    ratio(med('durable', 'ours', 'p50Ms'), med('durable', 'fdatasync-sync', 'p50Ms')),
    (v) => v <= 1.3,
  ],
  [
    'durable p50, ours / one fdatasync (async call, as we make it) (<= 1.3)',
    ratio(med('durable', 'ours', 'p50Ms'), med('durable', 'fdatasync-async', 'p50Ms')),
    (v) => v <= 1.3,
  ],
  [
    'durable p50, reference / ours (>= 2)',
    ratio(med('durable', 'reference', 'p50Ms'), med('durable', 'ours', 'p50Ms')),
    (v) => v >= 2,
  ],
  [
    '8 concurrent producers, fsyncs per record (< 0.5)',
    med('concurrent', 'ours', 'fsyncsPerRecord'),
    (v) => v < 0.5,
  ],
  [
    'replay, limit/ours time (>= 0.85)',
    ratio(med('replay', 'limit', 'ms'), med('replay', 'ours', 'ms')),
    (v) => v >= 0.85,
  ],
  [
    `replay of ${N.replayLarge} records, peak RSS MB (< 150)`,
    med('replay-large', 'ours', 'rssPeakMB'),
    (v) => v < 150,
  ],
  [
    `rewrite of ${N.rewriteLarge} records, longest stall ms (<= 50)`,
    med('rewrite-large', 'ours', 'maxStallMs'),
    (v) => v <= 50,
  ],
];
lines.push('', 'targets');
results.targets = targets.map(([name, value, pass]) => {
  const met = typeof value === 'number' ? pass(value) : false;
  lines.push(`  ${met ? 'met   ' : 'MISSED'} ${name}: ${fmt(value, 3)}`);
  return { name, value, met };
});

fs.writeFileSync(out, `${JSON.stringify(results, null, 2)}\n`);
lines.push('', `results written to ${out}`);
console.log(lines.join('\n'));
if (failures > 0) {
  console.error(`${failures} measurements failed; see the FAILED lines above`);
  process.exitCode = 1;
}
