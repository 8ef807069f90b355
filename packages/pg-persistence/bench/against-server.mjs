// Our backend against what the server itself can do, in one run (issue 17's targets):
//   durable  one append + flush(), vs one single-row INSERT autocommit (one round trip)
//   replay   read()/readBatches() of a session, vs one plain SELECT ... ORDER BY seq of its rows
//   batched  N appends in bursts + flush(), vs the same rows in one transaction (one unnest INSERT)
// Each pair runs alternately in rounds (ours, then the baseline), so load on the busy machine
// falls on both; medians of the rounds are printed with the ratio. Run from
// packages/pg-persistence after a build:
//   node bench/against-server.mjs [durableSamples=2000] [records=100000] [rounds=5]
// Uses AGENT_RECORDS_PG_URL (default postgres://postgres@127.0.0.1:5432/test) and a schema of
// its own, dropped at the end.
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { PostgresAgentRecordPersistence, PostgresAgentRecordStore } from '../dist/index.js';

const url = process.env.AGENT_RECORDS_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const durableSamples = Number(process.argv[2] ?? 2000);
const records = Number(process.argv[3] ?? 100_000);
const rounds = Number(process.argv[4] ?? 5);
const only = process.env.ONLY?.split(',') ?? ['durable', 'replay', 'batched'];
const schema = `ar_bench_${randomUUID().replaceAll('-', '').slice(0, 12)}`;
const pool = new pg.Pool({ connectionString: url, max: 4 });
const baseline = `"${schema}".baseline`;

const now = () => Number(process.hrtime.bigint()) / 1e6;
const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
const percentile = (sorted, p) =>
  sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))];
const f = (ms) => `${ms.toFixed(3)} ms`;
const record = (i) => ({ type: 'turn.prompt', n: i, content: 'hello '.repeat(20) });
/** A table of the same shape as ours, for the baselines. */
const createBaseline = `CREATE TABLE ${baseline} (session_id text NOT NULL, seq bigint NOT NULL,
  record jsonb NOT NULL, record_json text, time timestamptz, PRIMARY KEY (session_id, seq))`;

async function durable() {
  const persistence = new PostgresAgentRecordPersistence('latency', { pool, schema });
  for (let i = 0; i < 50; i++) {
    persistence.append(record(i));
    await persistence.flush();
    await pool.query(`INSERT INTO ${baseline} VALUES ('warm', $1, $2::jsonb, NULL, now())`, [
      i,
      JSON.stringify(record(i)),
    ]);
  }
  const ours = [];
  const single = [];
  const prepared = [];
  let seq = 0;
  const insert = `INSERT INTO ${baseline} (session_id, seq, record, time)
    VALUES ($1, $2, $3::jsonb, to_timestamp($4::float8 / 1000))`;
  const block = 100;
  for (let done = 0; done < durableSamples; done += block) {
    for (let i = 0; i < block; i++) {
      const start = now();
      persistence.append(record(i));
      await persistence.flush();
      ours.push(now() - start);
    }
    // One single-row INSERT autocommit as a user would send it, then the same prepared.
    for (const [samples, name] of [
      [single, undefined],
      [prepared, 'baseline_insert'],
    ]) {
      for (let i = 0; i < block; i++) {
        const start = now();
        const values = ['single', ++seq, JSON.stringify(record(i)), Date.now()];
        await pool.query({ name, text: insert, values });
        samples.push(now() - start);
      }
    }
  }
  await persistence.close();
  const [o, s, p] = [ours, single, prepared].map((samples) => samples.sort((a, b) => a - b));
  const p50 = percentile(o, 0.5);
  console.log(
    `durable (${durableSamples} samples each): ours p50 ${f(p50)} p99 ${f(percentile(o, 0.99))}; ` +
      `single-row INSERT autocommit p50 ${f(percentile(s, 0.5))} p99 ${f(percentile(s, 0.99))} ` +
      `(ours ${(p50 / percentile(s, 0.5)).toFixed(2)}x); the same prepared p50 ` +
      `${f(percentile(p, 0.5))} p99 ${f(percentile(p, 0.99))} (ours ${(p50 / percentile(p, 0.5)).toFixed(2)}x)`,
  );
}

async function fill(sessionId) {
  const persistence = new PostgresAgentRecordPersistence(sessionId, { pool, schema });
  for (let i = 0; i < records; i += 1000) {
    for (let j = i; j < Math.min(records, i + 1000); j++) persistence.append(record(j));
    await persistence.flush();
  }
  await persistence.close();
}

async function replay() {
  await fill('replay');
  const plain = async () => {
    const start = now();
    const { rows } = await pool.query(
      `SELECT record FROM "${schema}".agent_records WHERE session_id = $1 ORDER BY seq`,
      ['replay'],
    );
    if (rows.length !== records) throw new Error(`read ${rows.length}`);
    return now() - start;
  };
  const ours = async (batches) => {
    const persistence = new PostgresAgentRecordPersistence('replay', { pool, schema });
    const start = now();
    let n = 0;
    if (batches) for await (const batch of persistence.readBatches()) n += batch.length;
    else for await (const _ of persistence.read()) n++;
    const ms = now() - start;
    await persistence.close();
    if (n !== records) throw new Error(`read ${n}`);
    return ms;
  };
  await plain();
  await ours(true);
  const times = { read: [], readBatches: [], select: [] };
  for (let r = 0; r < rounds; r++) {
    times.read.push(await ours(false));
    times.readBatches.push(await ours(true));
    times.select.push(await plain());
  }
  const s = median(times.select);
  console.log(
    `replay ${records} (median of ${rounds}): read() ${f(median(times.read))} ` +
      `(${(median(times.read) / s).toFixed(2)}x), readBatches() ${f(median(times.readBatches))} ` +
      `(${(median(times.readBatches) / s).toFixed(2)}x); plain SELECT ${f(s)}`,
  );
}

/** COPY ... FROM STDIN through pg's own protocol hooks (what pg-copy-streams does, minus streams). */
class CopyIn {
  constructor(text, chunks) {
    this.text = text;
    this.chunks = chunks;
    this.done = new Promise((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
  }
  submit(connection) {
    connection.query(this.text);
  }
  handleCopyInResponse(connection) {
    for (const chunk of this.chunks()) connection.sendCopyFromChunk(chunk);
    connection.endCopyFrom();
  }
  handleCommandComplete() {}
  handleReadyForQuery() {
    if (this.error) this.reject(this.error);
    else this.resolve();
  }
  handleError(error) {
    this.error = error;
  }
}

/** The same rows in one transaction, without our backend: the fastest of these is the limit. */
const bulk = {
  async 'one unnest INSERT'(client, session) {
    await unnestInsert(client, session, 0, records);
  },
  async 'unnest INSERTs of 5000'(client, session) {
    for (let from = 0; from < records; from += 5000)
      await unnestInsert(client, session, from, Math.min(records, from + 5000));
  },
  async COPY(client, session) {
    const copy = new CopyIn(
      `COPY ${baseline} (session_id, seq, record, time) FROM STDIN`,
      function* () {
        let text = '';
        for (let i = 0; i < records; i++) {
          const line = JSON.stringify(record(i)).replaceAll('\\', '\\\\');
          text += `${session}\t${i + 1}\t${line}\t${new Date().toISOString()}\n`;
          if (text.length >= 1 << 20) {
            yield Buffer.from(text);
            text = '';
          }
        }
        if (text.length > 0) yield Buffer.from(text);
      },
    );
    client.query(copy);
    await copy.done;
  },
};

/** Rows [from, to) in one unnest INSERT (JSON.stringify of each record is part of the work, as it is ours). */
async function unnestInsert(client, session, from, to) {
  const seqs = [];
  const lines = [];
  const times = [];
  for (let i = from; i < to; i++) {
    seqs.push(i + 1);
    lines.push(JSON.stringify(record(i)));
    times.push(Date.now());
  }
  await client.query(
    `INSERT INTO ${baseline} (session_id, seq, record, time)
     SELECT $1, s, r::jsonb, to_timestamp(t / 1000)
     FROM unnest($2::bigint[], $3::text[], $4::float8[]) AS x(s, r, t)`,
    [session, seqs, lines, times],
  );
}

async function batched() {
  const store = new PostgresAgentRecordStore({ pool, schema });
  const ours = async (r) => {
    const persistence = new PostgresAgentRecordPersistence(`batched-${r}`, { pool, schema });
    const start = now();
    for (let i = 0; i < records; i += 1000) {
      for (let j = i; j < Math.min(records, i + 1000); j++) persistence.append(record(j));
      await new Promise((resolve) => setImmediate(resolve)); // a burst, then the loop turns
    }
    await persistence.flush();
    const ms = now() - start;
    await persistence.close();
    await store.delete(`batched-${r}`);
    return ms;
  };
  const theirs = async (how, r) => {
    const session = `${how}-${r}`;
    const start = now();
    const client = await pool.connect();
    try {
      await client.query('BEGIN');
      await bulk[how](client, session);
      await client.query('COMMIT');
    } finally {
      client.release();
    }
    const ms = now() - start;
    await pool.query(`DELETE FROM ${baseline} WHERE session_id = $1`, [session]);
    return ms;
  };
  await ours('warm');
  for (const how of Object.keys(bulk)) await theirs(how, 'warm');
  const times = { ours: [], ...Object.fromEntries(Object.keys(bulk).map((how) => [how, []])) };
  for (let r = 0; r < rounds; r++) {
    times.ours.push(await ours(r));
    for (const how of Object.keys(bulk)) times[how].push(await theirs(how, r));
  }
  const medians = Object.fromEntries(Object.entries(times).map(([k, v]) => [k, median(v)]));
  const fastest = Math.min(...Object.keys(bulk).map((how) => medians[how]));
  console.log(
    `batched ${records} (median of ${rounds}): ours ${f(medians.ours)} ` +
      `(${(medians.ours / fastest).toFixed(2)}x the fastest one-transaction bulk insert); ` +
      Object.keys(bulk)
        .map((how) => `${how} ${f(medians[how])}`)
        .join(', '),
  );
}

try {
  await new PostgresAgentRecordStore({ pool, schema }).ensureSchema();
  await pool.query(createBaseline);
  if (only.includes('durable')) await durable();
  if (only.includes('replay')) await replay();
  if (only.includes('batched')) await batched();
} finally {
  await pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  await pool.end();
}
