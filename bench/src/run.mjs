// pnpm bench [-- --quick] [--runs N] [--dir DIR] [--out FILE] [--sqlite] [--only a,b]
// Runs every case in fresh worker processes, several times, and reports min/median/max of each
// figure next to its baselines from the same run (report.mjs: tables, targets, findings).
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { DURABLE_BASELINES } from './cases/append.mjs';
import { PG_BULK_BASELINES } from './cases/pg.mjs';
import { REPLAY_BASELINES } from './cases/replay.mjs';
import { SQLITE_BASELINES } from './cases/sqlite.mjs';
import { machineFacts } from './lib/machine.mjs';
import { prepareSqlite } from './lib/sqlite-install.mjs';
import { report } from './report.mjs';

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    runs: { type: 'string' },
    dir: { type: 'string' },
    out: { type: 'string' },
    sqlite: { type: 'boolean', default: false },
    only: { type: 'string' },
  },
});
const quick = values.quick;
const runs = Number(values.runs ?? (quick ? 2 : 5));
const here = path.dirname(fileURLToPath(import.meta.url));
const out = values.out ?? path.join(here, '..', 'results.json');
const workDir = fs.mkdtempSync(path.join(values.dir ?? os.tmpdir(), 'agent-records-bench-'));
const log = (text) => process.stderr.write(text);

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
      resume: 5_000,
      listing: 60,
      snapshotStateMB: 1,
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
      resume: 1_000_000,
      listing: 20_000,
      snapshotStateMB: 20,
    };

// PostgreSQL rows join the table when the local server answers (AGENT_RECORDS_PG_URL).
const pgUrl = process.env.AGENT_RECORDS_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const pgSchema = `agent_records_bench_${process.pid}`;
const psql = (sql) => spawnSync('psql', [pgUrl, '-qAtc', sql], { encoding: 'utf8' }).stdout?.trim();
const pgReachable = psql('SELECT 1') === '1';
const skippedImpls = {};
if (!pgReachable) {
  skippedImpls.pg = `PostgreSQL not reachable at ${pgUrl}`;
  log(`skipped: PostgreSQL rows (${skippedImpls.pg})\n`);
}

// SQLite rows only when asked: installing better-sqlite3 builds it from source.
const sqliteWanted = values.sqlite || process.env.AGENT_RECORDS_BENCH_SQLITE === '1';
const sqlite = prepareSqlite({ install: sqliteWanted, log });
if (sqlite.reason) {
  skippedImpls.sqlite = sqlite.reason;
  log(`skipped: SQLite rows (${sqlite.reason})\n`);
}
const pg = (...impls) => impls.map((impl) => ({ impl, engine: 'pg' }));
const lite = (...impls) => impls.map((impl) => ({ impl, engine: 'sqlite' }));

const plan = [
  [
    'batched',
    N.batched,
    [
      'limit',
      'ours',
      'reference',
      'memory',
      ...pg('pg', ...PG_BULK_BASELINES),
      ...lite(...SQLITE_BASELINES),
    ],
  ],
  [
    'durable',
    N.durable,
    [
      'ours',
      ...DURABLE_BASELINES,
      'reference',
      'memory',
      ...pg('pg', 'pg-insert-autocommit'),
      ...lite(...SQLITE_BASELINES),
    ],
  ],
  ['concurrent', N.concurrent, ['ours', 'reference']],
  [
    'replay',
    N.replay,
    ['ours', ...REPLAY_BASELINES, ...pg('pg', 'pg-select'), ...lite('sqlite-full')],
  ],
  ['replay-large', N.replayLarge, ['ours']],
  ['rewrite', N.rewrite, ['limit', 'ours', 'reference']],
  ['rewrite-large', N.rewriteLarge, ['ours', 'reference']],
  ['blobs', N.blobs, ['inline', 'blobs']],
  // Issue 15: resume, listing and the snapshot stall (their workers say 'skipped' until the
  // capabilities they measure exist).
  ['resume', N.resume, ['full', 'snapshot', 'snapshot-fast-tail'], { runs: Math.min(runs, 3) }],
  [
    'listing',
    N.listing,
    ['first-page', 'list-all', 'stat-first-page', 'count-lines', 'parse-every-file'],
    { runs: Math.min(runs, 3) },
  ],
  ['snapshot-stall', N.snapshotStateMB, ['ours', 'stringify-at-once']],
].filter(([kase]) => !values.only || values.only.split(',').includes(kase));

function worker(kase, impl, count, sharedFile) {
  const args = [kase, impl, String(count), workDir, ...(sharedFile ? [sharedFile] : [])];
  const result = spawnSync(
    process.execPath,
    ['--expose-gc', path.join(here, 'worker.mjs'), ...args],
    {
      encoding: 'utf8',
      maxBuffer: 1 << 20,
      env: {
        ...process.env,
        AGENT_RECORDS_PG_URL: pgUrl,
        AGENT_RECORDS_BENCH_SCHEMA: pgSchema,
        AGENT_RECORDS_BENCH_SQLITE_DIR: sqlite.dir ?? '',
        AGENT_RECORDS_BENCH_MODE: quick ? 'quick' : 'full',
      },
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

const results = {
  date: new Date().toISOString(),
  mode: quick ? 'quick' : 'full',
  runs,
  machine: machineFacts(workDir, pgReachable ? psql('SHOW server_version') : null),
  n: N,
  skipped: skippedImpls,
  cases: {},
};

let failures = 0;
try {
  for (const [kase, count, entries, options = {}] of plan) {
    const impls = entries.filter((e) => typeof e === 'string' || !skippedImpls[e.engine]);
    results.cases[kase] = { records: count, implementations: {} };
    const names = impls.map((e) => (typeof e === 'string' ? e : e.impl));
    let sharedFile;
    // Each engine prepares its own copy of the data; one failing leaves the others measured.
    const prepareFailed = {};
    const prepare = (impl, ...args) => {
      try {
        worker(...args);
      } catch (error) {
        prepareFailed[impl] = String(error.message).split('\n')[0];
        failures++;
        log(`  ${kase}/${impl} preparation FAILED: ${error.message}\n`);
      }
    };
    if (kase.startsWith('replay')) {
      sharedFile = path.join(workDir, `${kase}.jsonl`);
      worker('prepare', 'limit', count, sharedFile);
      if (names.includes('pg')) prepare('pg', 'prepare-pg', 'pg', count);
      if (names.includes('pg-select')) prepare('pg-select', 'prepare-pg', 'pg-select', count);
      if (names.includes('sqlite-full'))
        prepare('sqlite-full', 'prepare-sqlite', 'sqlite-full', count, sharedFile);
    }
    if (kase === 'resume' || kase === 'listing') {
      // Generated once per set of parameters, kept in a cache folder across runs.
      let prepared;
      try {
        prepared = worker(`prepare-${kase}`, 'ours', count);
      } catch (error) {
        results.cases[kase].error = String(error.message).split('\n')[0];
        failures++;
        log(`  ${kase} preparation FAILED: ${error.message}\n`);
        continue;
      }
      if (prepared.skipped) {
        results.cases[kase].skipped = prepared.skipped;
        log(`  ${kase} skipped: ${prepared.skipped}\n`);
        continue;
      }
      sharedFile = prepared.dir;
      results.cases[kase].data = prepared;
    }
    const perImplLog = kase === 'blobs';
    const fileOf = (impl) =>
      perImplLog ? path.join(workDir, `${kase}-${impl}.jsonl`) : sharedFile;
    const samples = {};
    const ended = {}; // impl -> { error } or { skipped }
    for (const impl of names) {
      samples[impl] = [];
      if (prepareFailed[impl]) ended[impl] = { error: prepareFailed[impl] };
      else if (perImplLog) {
        try {
          worker('prepare-blobs', impl, count, fileOf(impl));
        } catch (error) {
          ended[impl] = { error: String(error.message).split('\n')[0] };
          failures++;
          log(`  ${kase}/${impl} preparation FAILED: ${error.message}\n`);
        }
      }
    }
    // Runs alternate between implementations (A B C A B C ...), so a change of load on the
    // machine during the case moves every implementation's figures alike, not one of them.
    for (let run = 0; run < (options.runs ?? runs); run++) {
      for (const impl of names) {
        if (ended[impl]) continue;
        try {
          const sample = worker(kase, impl, count, fileOf(impl));
          if (sample.skipped) {
            ended[impl] = { skipped: sample.skipped };
            log(`  ${kase}/${impl} skipped: ${sample.skipped}\n`);
          } else samples[impl].push(sample);
        } catch (error) {
          // One failing case must not lose the others' figures: record it and go on.
          ended[impl] = { error: String(error.message).split('\n')[0] };
          failures++;
          log(`  ${kase}/${impl} FAILED: ${error.message}\n`);
        }
      }
    }
    for (const impl of names) {
      results.cases[kase].implementations[impl] = ended[impl] ?? summarise(samples[impl]);
    }
    log(`  ${kase} done\n`);
  }
} finally {
  fs.rmSync(workDir, { recursive: true, force: true });
  if (pgReachable) psql(`DROP SCHEMA IF EXISTS "${pgSchema}" CASCADE`);
}

results.machine.loadAtEnd = os.loadavg().map((v) => Math.round(v * 100) / 100);
const lines = report(results);
fs.writeFileSync(out, `${JSON.stringify(results, null, 2)}\n`);
lines.push('', `results written to ${out}`);
console.log(lines.join('\n'));
if (failures > 0) {
  console.error(`${failures} measurements failed; see the FAILED lines above`);
  process.exitCode = 1;
}
