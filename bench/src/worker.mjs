// Runs one measurement in a fresh process (so memory figures are its own) and prints JSON.
// usage: node worker.mjs <case> <implementation> <count> <dir> [shared file]
// Baselines of other engines are dispatched by prefix ('pg-...', 'sqlite-...'); the rest by case.
import fs from 'node:fs';
import path from 'node:path';
import { workerArgs } from './lib/measure.mjs';

const args = workerArgs();
const { kase, impl, dir, sharedFile } = args;
// Replay reads a log prepared once by another process, so its memory figures are its own.
const file = sharedFile ?? path.join(dir, `${kase}-${impl}-${process.pid}.jsonl`);

const caseModules = {
  batched: './cases/append.mjs',
  durable: './cases/append.mjs',
  concurrent: './cases/append.mjs',
  prepare: './cases/replay.mjs',
  'prepare-pg': './cases/replay.mjs',
  replay: './cases/replay.mjs',
  'replay-large': './cases/replay.mjs',
  rewrite: './cases/rewrite.mjs',
  'rewrite-large': './cases/rewrite.mjs',
  blobs: './cases/rewrite.mjs',
  'prepare-blobs': './cases/rewrite.mjs',
  resume: './cases/resume.mjs',
  'prepare-resume': './cases/resume.mjs',
  listing: './cases/listing.mjs',
  'prepare-listing': './cases/listing.mjs',
  'snapshot-stall': './cases/snapshot-stall.mjs',
};

function moduleFor() {
  if (impl.startsWith('pg-')) return './cases/pg.mjs';
  if (impl.startsWith('sqlite-')) return './cases/sqlite.mjs';
  return caseModules[kase];
}

try {
  const { default: cases } = await import(moduleFor());
  if (!cases[kase]) throw new Error(`no case ${kase} for ${impl}`);
  const result = await cases[kase]({ ...args, file });
  process.stdout.write(`${JSON.stringify(result)}\n`);
} finally {
  if (!sharedFile) {
    for (const suffix of ['', '.sqlite', '.sqlite-wal', '.sqlite-shm'])
      fs.rmSync(`${file}${suffix}`, { force: true });
  }
}
