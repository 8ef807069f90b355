// Durable append latency: one append then flush(), N times, on one session; prints p50/p90/p99.
// Run from packages/pg-persistence after a build:
//   node bench/append-latency.mjs [count=2000]
// Uses AGENT_RECORDS_PG_URL (default postgres://postgres@127.0.0.1:5432/test) and a schema of
// its own, dropped at the end.
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { PostgresAgentRecordPersistence } from '../dist/index.js';

const url = process.env.AGENT_RECORDS_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const count = Number(process.argv[2] ?? 2000);
const schema = `ar_bench_${randomUUID().replaceAll('-', '').slice(0, 12)}`;
const pool = new pg.Pool({ connectionString: url, max: 4 });

const percentile = (sorted, p) =>
  sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))];

try {
  const persistence = new PostgresAgentRecordPersistence('latency', { pool, schema });
  // Warm up: schema, head, connections.
  for (let i = 0; i < 50; i++) {
    persistence.append({ type: 'warm', n: i });
    await persistence.flush();
  }
  const samples = [];
  for (let i = 0; i < count; i++) {
    const start = process.hrtime.bigint();
    persistence.append({ type: 'turn.prompt', n: i, content: 'hello '.repeat(20) });
    await persistence.flush();
    samples.push(Number(process.hrtime.bigint() - start) / 1e6);
  }
  await persistence.close();
  samples.sort((a, b) => a - b);
  const f = (ms) => `${ms.toFixed(3)} ms`;
  console.log(
    `durable append (append + flush), ${count} samples: p50 ${f(percentile(samples, 0.5))}, ` +
      `p90 ${f(percentile(samples, 0.9))}, p99 ${f(percentile(samples, 0.99))}`,
  );
} finally {
  await pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  await pool.end();
}
