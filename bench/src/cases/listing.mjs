// Case 8 (issue 15): listing a store of many sessions. Ours answers from the summaries the writer
// keeps beside each log; the baselines are what a tool without them does: parse every log
// (what resume pickers do today), count lines without parsing, or stat everything and parse only
// the newest page.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { AgentRecords } from '@agent-records/core';
import { FileSystemAgentRecordStore } from '@agent-records/fs-persistence';
import { fastReadSync } from '../baselines.mjs';
import { cacheFolder, codeFiles, completeFolder } from '../lib/cache.mjs';
import { maxRssMB } from '../lib/measure.mjs';
import { makeRecords } from '../records.mjs';
import { sessionSizes } from './listing-sizes.mjs';

const PAGE = 50;
const LOG_SUFFIX = '.jsonl';
const quiet = () => {};

/** Does the fs store answer `list({ limit })` with session summaries yet? A skip reason or null. */
async function missingSummaries() {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-list-probe-'));
  try {
    const store = new FileSystemAgentRecordStore(root, { onError: quiet });
    for (const id of ['a', 'b']) {
      const persistence = store.open(id);
      const records = new AgentRecords({ persistence, protocolVersion: '1.0', onError: quiet });
      records.logRecord({ type: 'turn.prompt', time: 1, content: 'hi' });
      await records.flush();
      await persistence.close();
    }
    const page = await store.list({ limit: 1 });
    if (page.length !== 1 || typeof page[0].updatedAt !== 'number')
      return 'not built yet: fs store.list({ limit }) with SessionSummary (updatedAt, records)';
    return null;
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
}

/** Every session listed with its record count: the summaries are there and current. */
async function summariesAnswer(root, count) {
  const sessions = await new FileSystemAgentRecordStore(root).list();
  return sessions.length === count && sessions.every((s) => typeof s.records === 'number');
}

/** The store, written through our backend (so every summary is the writer's own). */
async function generate(dir, count) {
  const pool = makeRecords(5_000);
  const lengths = pool.map((r) => Buffer.byteLength(JSON.stringify(r)) + 1);
  const store = new FileSystemAgentRecordStore(dir, { onError: quiet, lock: false });
  const sizes = sessionSizes(count);
  let total = 0;
  let next = 0;
  for (const [i, target] of sizes.entries()) {
    const id = `session-${String(i).padStart(6, '0')}`;
    const persistence = store.open(id);
    const records = new AgentRecords({ persistence, protocolVersion: '1.0', onError: quiet });
    records.setTitle?.(`fix module ${i % 97}`);
    let bytes = 0;
    let logged = 0;
    while (bytes < target) {
      records.logRecord(pool[next]);
      bytes += lengths[next];
      next = (next + 1) % pool.length;
      if (++logged % 10_000 === 0) await records.flush();
    }
    await records.flush();
    await persistence.close();
    total += bytes;
  }
  return total;
}

/** What a tool without summaries learns by reading a log: created, last activity, records. */
function parseLog(file) {
  let createdAt;
  let lastTime = 0;
  const records = fastReadSync(file, 1 << 20, {
    way: 'pieces',
    onRecord: (record) => {
      createdAt ??= record.created_at ?? record.time;
      if (typeof record.time === 'number') lastTime = record.time;
    },
  });
  return { records, createdAt, lastTime };
}

/** Counts lines without parsing them; only the first line is parsed (for created_at). */
function countLines(file) {
  const fd = fs.openSync(file, 'r');
  const buffer = Buffer.allocUnsafe(1 << 20);
  let lines = 0;
  let createdAt;
  try {
    for (;;) {
      const got = fs.readSync(fd, buffer, 0, buffer.length, null);
      if (got === 0) break;
      if (createdAt === undefined) {
        const end = buffer.indexOf(10);
        createdAt = JSON.parse(buffer.toString('utf8', 0, end === -1 ? got : end)).created_at;
      }
      for (let at = buffer.indexOf(10); at !== -1 && at < got; at = buffer.indexOf(10, at + 1))
        lines++;
    }
  } finally {
    fs.closeSync(fd);
  }
  return { records: lines, createdAt };
}

function statAll(dir) {
  return fs
    .readdirSync(dir)
    .filter((name) => name.endsWith(LOG_SUFFIX) && !name.startsWith('.'))
    .map((name) => {
      const file = path.join(dir, name);
      const info = fs.statSync(file);
      return {
        id: name.slice(0, -LOG_SUFFIX.length),
        file,
        bytes: info.size,
        updatedAt: info.mtimeMs,
      };
    });
}

const byActivity = (a, b) => b.updatedAt - a.updatedAt || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

const lists = {
  'first-page': (dir) => new FileSystemAgentRecordStore(dir).list({ limit: PAGE }),
  'list-all': (dir) => new FileSystemAgentRecordStore(dir).list(),
  'parse-every-file': (dir) =>
    statAll(dir)
      .map((session) => ({ ...session, ...parseLog(session.file) }))
      .sort(byActivity),
  'count-lines': (dir) =>
    statAll(dir)
      .map((session) => ({ ...session, ...countLines(session.file) }))
      .sort(byActivity),
  // The fastest honest first page without summaries: stat all, sort, parse the newest 50.
  'stat-first-page': (dir) =>
    statAll(dir)
      .sort(byActivity)
      .slice(0, PAGE)
      .map((session) => ({ ...session, ...parseLog(session.file) })),
};

export default {
  async 'prepare-listing'({ count }) {
    const missing = await missingSummaries();
    if (missing) return { skipped: missing };
    // Keyed by the generator only: a rebuild of our packages does not regenerate gigabytes. Data
    // whose summaries this build no longer reads (a record count missing) is generated anew.
    const files = codeFiles(
      new URL('../records.mjs', import.meta.url).href,
      new URL('./listing.mjs', import.meta.url).href,
      new URL('./listing-sizes.mjs', import.meta.url).href,
    );
    let { dir, facts } = cacheFolder('listing', { count }, files);
    if (facts && !(await summariesAnswer(facts.dir, count))) {
      fs.rmSync(dir, { recursive: true, force: true });
      ({ dir, facts } = cacheFolder('listing', { count }, files));
    }
    if (facts) return { ...facts, cached: true };
    const started = performance.now();
    const root = path.join(dir, 'store');
    const bytes = await generate(root, count);
    const names = fs.readdirSync(root);
    return completeFolder(dir, {
      dir: root,
      sessions: count,
      totalMB: bytes / 2 ** 20,
      largestMB: Math.max(...sessionSizes(count)) / 2 ** 20,
      filesBesideLogs: names.filter((n) => !n.endsWith(LOG_SUFFIX)).length,
      generatedMs: performance.now() - started,
    });
  },

  async listing({ impl, sharedFile }) {
    global.gc?.();
    const start = performance.now();
    const sessions = await lists[impl](sharedFile);
    const ms = performance.now() - start;
    return { ms, sessions: sessions.length, maxRssMB: maxRssMB() };
  },
};
