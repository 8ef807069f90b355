// list() over a store of many sessions: the whole list, and the first page of 50 by last
// activity. The sessions rows are made with one INSERT (list() reads only the sessions table,
// never a log), with spread-out activity times, sizes and titles. Run from packages/pg-persistence
// after a build:
//   node bench/list-sessions.mjs [sessions=20000] [runs=20]
// Prints the median and the best of `runs` timed calls of each, right after the rows are
// inserted (no ANALYZE yet: a freshly filled table) and after ANALYZE.
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { PostgresAgentRecordStore } from '../dist/index.js';

const url = process.env.AGENT_RECORDS_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const sessions = Number(process.argv[2] ?? 20_000);
const runs = Number(process.argv[3] ?? 20);
const schema = `ar_bench_${randomUUID().replaceAll('-', '').slice(0, 12)}`;
const pool = new pg.Pool({ connectionString: url, max: 4 });

async function time(what, call) {
  await call(); // warm
  const samples = [];
  let result;
  for (let i = 0; i < runs; i++) {
    const start = process.hrtime.bigint();
    result = await call();
    samples.push(Number(process.hrtime.bigint() - start) / 1e6);
  }
  samples.sort((a, b) => a - b);
  const median = samples[Math.floor(samples.length / 2)];
  console.log(
    `${what}: median ${median.toFixed(2)} ms, best ${samples[0].toFixed(2)} ms (${result.length} summaries)`,
  );
}

try {
  const store = new PostgresAgentRecordStore({ pool, schema });
  await store.ensureSchema();
  await pool.query(
    `INSERT INTO "${schema}".agent_records_sessions
       (session_id, head_seq, generation, bytes, title, created_at, updated_at)
     SELECT 'session-' || i, 1 + (i * 7919) % 5000, 0, 1000 + (i * 104729) % 50000000,
            CASE WHEN i % 3 = 0 THEN 'Session title ' || i END,
            date_trunc('milliseconds', now() - make_interval(secs => i * 60)),
            date_trunc('milliseconds', now() - make_interval(secs => (i * 7919) % 2000000))
     FROM generate_series(1, $1) AS i`,
    [sessions],
  );
  for (const phase of ['fresh table', 'after ANALYZE']) {
    if (phase === 'after ANALYZE') await pool.query(`ANALYZE "${schema}".agent_records_sessions`);
    await time(`${phase}: list() of ${sessions} sessions`, () => store.list());
    await time(`${phase}: list({ limit: 50 })`, () => store.list({ limit: 50 }));
    const page = await store.list({ limit: 50 });
    const after = page.at(-1);
    await time(`${phase}: list({ limit: 50, after })`, () => store.list({ limit: 50, after }));
  }
  const plan = await pool.query(
    `EXPLAIN SELECT session_id FROM "${schema}".agent_records_sessions
       ORDER BY updated_at DESC, session_id COLLATE "C" LIMIT 50`,
  );
  console.log(`first page plan: ${plan.rows.map((row) => row['QUERY PLAN']).join(' | ')}`);
} finally {
  await pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  await pool.end();
}
