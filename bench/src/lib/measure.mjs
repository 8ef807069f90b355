// What every case measures with: time, RSS, event-loop stalls, latency percentiles, and our
// backends built the same way in each case.
import fs from 'node:fs';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { AgentRecords } from '@agent-records/core';
import { FileSystemAgentRecordPersistence } from '@agent-records/fs-persistence';
import { InMemoryAgentRecordPersistence } from '@agent-records/memory-persistence';
import { PostgresAgentRecordPersistence } from '@agent-records/pg-persistence';

/** The worker's arguments: `node worker.mjs <case> <impl> <count> <dir> [file]`. */
export function workerArgs(argv = process.argv.slice(2)) {
  const [kase, impl, countArg, dir, sharedFile] = argv;
  return { kase, impl, count: Number(countArg), dir, sharedFile };
}

/** Samples RSS and event-loop delay while `run` goes. */
export async function measure(run) {
  global.gc?.();
  const rssBefore = process.memoryUsage().rss;
  let rssPeak = rssBefore;
  const sample = setInterval(() => {
    rssPeak = Math.max(rssPeak, process.memoryUsage().rss);
  }, 2);
  const loop = monitorEventLoopDelay({ resolution: 1 });
  loop.enable();
  // The histogram records the time between two of its timer's ticks, so it says nothing until it
  // has ticked once: a run that blocked the loop from its start would show no stall.
  await new Promise((resolve) => setTimeout(resolve, 2));
  const start = performance.now();
  const extra = (await run()) ?? {};
  const ms = performance.now() - start;
  // Its timer fires only when the loop turns: one turn here lets it see the run's last stretch
  // (all of a synchronous reader's).
  await new Promise((resolve) => setImmediate(resolve));
  loop.disable();
  clearInterval(sample);
  rssPeak = Math.max(rssPeak, process.memoryUsage().rss);
  return {
    ms,
    maxStallMs: loop.max / 1e6,
    rssBeforeMB: rssBefore / 2 ** 20,
    rssPeakMB: rssPeak / 2 ** 20,
    rssGrowthMB: (rssPeak - rssBefore) / 2 ** 20,
    ...extra,
  };
}

/** The process's peak resident set so far (kernel's figure, not sampled), in MB. */
export const maxRssMB = () => process.resourceUsage().maxRSS / 1024;

export const yieldNow = () => new Promise((resolve) => setImmediate(resolve));

function percentile(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))];
}

/** p50, p99, max and mean of per-operation times in ms. */
export function latencies(values) {
  const sorted = [...values].sort((a, b) => a - b);
  return {
    p50Ms: percentile(sorted, 50),
    p99Ms: percentile(sorted, 99),
    maxMs: sorted.at(-1),
    meanMs: values.reduce((a, b) => a + b, 0) / values.length,
  };
}

/** Times each call of `once(i)` for i in 0..count-1. */
export async function timeEach(count, once) {
  const times = [];
  for (let i = 0; i < count; i++) {
    const t = performance.now();
    await once(i);
    times.push(performance.now() - t);
  }
  return times;
}

/**
 * The durable case's two phases, each of `count` calls of `once(i)` (i from 0 to 2 * count - 1):
 * first `cold` (a fresh process: each implementation's code is still being optimised by V8, on
 * the same 2 cores as the write thread), then `steady` (a long-lived agent's life, the figure the
 * targets use). Returns the steady latencies as p50Ms..., the cold ones as coldP50Ms...
 */
export async function timeColdThenSteady(count, once) {
  const cold = latencies(await timeEach(count, once));
  const steady = latencies(await timeEach(count, (i) => once(count + i)));
  return {
    ...steady,
    coldP50Ms: cold.p50Ms,
    coldP99Ms: cold.p99Ms,
    coldMaxMs: cold.maxMs,
  };
}

export const fileBytes = (file) => (fs.existsSync(file) ? fs.statSync(file).size : 0);

export const PG_URL = process.env.AGENT_RECORDS_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
export const PG_SCHEMA = process.env.AGENT_RECORDS_BENCH_SCHEMA ?? 'agent_records_bench';

const quiet = { onError: () => {} };

/** Our filesystem backend under the core. */
export function oursFs(file, options = {}, coreOptions = {}) {
  const persistence = new FileSystemAgentRecordPersistence(file, { ...quiet, ...options });
  return {
    persistence,
    records: new AgentRecords({ persistence, protocolVersion: '1.0', ...quiet, ...coreOptions }),
  };
}

/** Our PostgreSQL backend under the core, in the bench's throwaway schema. */
export function oursPg(sessionId, coreOptions = {}) {
  const persistence = new PostgresAgentRecordPersistence(sessionId, {
    connectionString: PG_URL,
    schema: PG_SCHEMA,
    ...quiet,
  });
  return {
    persistence,
    records: new AgentRecords({ persistence, protocolVersion: '1.0', ...quiet, ...coreOptions }),
  };
}

/** Our in-memory backend under the core. */
export function oursMemory() {
  const persistence = new InMemoryAgentRecordPersistence([], quiet);
  return {
    persistence,
    records: new AgentRecords({ persistence, protocolVersion: '1.0', ...quiet }),
  };
}

/** One of our backends by implementation name: 'ours' (fs), 'pg' or 'memory'. */
export function ours(impl, file, sessionId) {
  if (impl === 'memory') return oursMemory();
  if (impl === 'pg') return oursPg(sessionId);
  return oursFs(file);
}
