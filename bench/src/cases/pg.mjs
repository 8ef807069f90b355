// PostgreSQL baselines: what the server does for the same rows without our backend. Each writes
// into a table shaped like ours (session id + seq key, jsonb record, timestamptz), in the bench's
// throwaway schema, with the server's default durability (synchronous_commit on).
import { createRequire } from 'node:module';
import { measure, PG_SCHEMA, PG_URL, timeColdThenSteady } from '../lib/measure.mjs';
import { makeRecords } from '../records.mjs';

// `pg` is our PostgreSQL backend's dependency; the bench borrows it rather than pin its own copy.
const require = createRequire(import.meta.resolve('@agent-records/pg-persistence'));
const { Client } = require('pg');

const TABLE = `"${PG_SCHEMA}".baseline_records`;
const CHUNK_ROWS = 1_000;

async function connect() {
  const client = new Client({ connectionString: PG_URL });
  await client.connect();
  await client.query(`CREATE SCHEMA IF NOT EXISTS "${PG_SCHEMA}"`);
  await client.query(`CREATE TABLE IF NOT EXISTS ${TABLE} (
    session_id text NOT NULL, seq bigint NOT NULL, record jsonb NOT NULL, time timestamptz,
    PRIMARY KEY (session_id, seq))`);
  return client;
}

/** COPY ... FROM STDIN with pg's own protocol hooks (what pg-copy-streams does, minus streams). */
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

const copyField = (text) => text.replaceAll('\\', '\\\\');

/** Bulk inserts of all rows in one transaction, three ways. */
const bulk = {
  async 'pg-multirow'(client, session, data) {
    for (let from = 0; from < data.length; from += CHUNK_ROWS) {
      const rows = data.slice(from, from + CHUNK_ROWS);
      const values = [];
      const params = [session];
      rows.forEach((record, i) => {
        const n = params.length;
        values.push(`($1, $${n + 1}, $${n + 2}::jsonb, to_timestamp($${n + 3}::float8 / 1000))`);
        params.push(from + i + 1, JSON.stringify(record), record.time ?? 0);
      });
      await client.query(
        `INSERT INTO ${TABLE} (session_id, seq, record, time) VALUES ${values.join(',')}`,
        params,
      );
    }
  },
  async 'pg-unnest'(client, session, data) {
    for (let from = 0; from < data.length; from += 10 * CHUNK_ROWS) {
      const rows = data.slice(from, from + 10 * CHUNK_ROWS);
      await client.query(
        `INSERT INTO ${TABLE} (session_id, seq, record, time)
         SELECT $1, s, r::jsonb, to_timestamp(t / 1000)
         FROM unnest($2::bigint[], $3::text[], $4::float8[]) AS x(s, r, t)`,
        [
          session,
          rows.map((_, i) => from + i + 1),
          rows.map((record) => JSON.stringify(record)),
          rows.map((record) => record.time ?? 0),
        ],
      );
    }
  },
  async 'pg-copy'(client, session, data) {
    const copy = new CopyIn(
      `COPY ${TABLE} (session_id, seq, record, time) FROM STDIN`,
      function* () {
        let text = '';
        for (let i = 0; i < data.length; i++) {
          const time = new Date(data[i].time ?? 0).toISOString();
          text += `${session}\t${i + 1}\t${copyField(JSON.stringify(data[i]))}\t${time}\n`;
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
  // COPY in the binary format: the server parses no text (the time's above all).
  async 'pg-copy-binary'(client, session, data) {
    const copy = new CopyIn(
      `COPY ${TABLE} (session_id, seq, record, time) FROM STDIN (FORMAT binary)`,
      function* () {
        yield* binaryCopyRows(session, data);
      },
    );
    client.query(copy);
    await copy.done;
  },
};

/** PostgreSQL's epoch (2000-01-01) in Unix milliseconds: binary timestamps count from it. */
const PG_EPOCH_MS = 946_684_800_000;

/** The rows in COPY's binary format (header, tuples of 4 fields, trailer), in ~1 MiB buffers. */
function* binaryCopyRows(session, data) {
  const sessionBytes = Buffer.from(session);
  let buffer = Buffer.allocUnsafe(1 << 20);
  buffer.write('PGCOPY\n\xff\r\n\0', 0, 'latin1');
  let at = buffer.writeInt32BE(0, buffer.writeInt32BE(0, 11)); // flags, header extension
  for (let i = 0; i < data.length; i++) {
    const json = JSON.stringify(data[i]);
    const need = 2 + 4 + sessionBytes.length + 12 + 5 + json.length * 3 + 12;
    if (at + need > buffer.length) {
      yield buffer.subarray(0, at);
      buffer = Buffer.allocUnsafe(Math.max(1 << 20, need));
      at = 0;
    }
    at = buffer.writeInt16BE(4, at);
    at = buffer.writeInt32BE(sessionBytes.length, at);
    at += sessionBytes.copy(buffer, at);
    at = buffer.writeInt32BE(8, at);
    at = buffer.writeBigInt64BE(BigInt(i + 1), at);
    const lengthAt = at;
    at = buffer.writeUInt8(1, at + 4); // jsonb's binary version
    at += buffer.write(json, at);
    buffer.writeInt32BE(at - lengthAt - 4, lengthAt);
    at = buffer.writeInt32BE(8, at);
    at = buffer.writeBigInt64BE(BigInt((data[i].time ?? 0) - PG_EPOCH_MS) * 1000n, at);
  }
  if (at + 2 > buffer.length) {
    yield buffer.subarray(0, at);
    buffer = Buffer.allocUnsafe(2);
    at = 0;
  }
  at = buffer.writeInt16BE(-1, at);
  yield buffer.subarray(0, at);
}

export const PG_BULK_BASELINES = Object.keys(bulk);

export default {
  // Batched: every record in one transaction.
  async batched({ impl, count }) {
    const data = makeRecords(count);
    const client = await connect();
    const session = `batched-${impl}-${process.pid}`;
    try {
      const result = await measure(async () => {
        await client.query('BEGIN');
        await bulk[impl](client, session, data);
        await client.query('COMMIT');
      });
      return { ...result, records: count, recordsPerSec: count / (result.ms / 1000) };
    } finally {
      await client.end();
    }
  },

  // Durable: one single-row INSERT, autocommit: one round trip per record.
  async durable({ count }) {
    const data = makeRecords(2 * count);
    const client = await connect();
    const session = `durable-${process.pid}`;
    const sql = `INSERT INTO ${TABLE} (session_id, seq, record, time)
      VALUES ($1, $2, $3::jsonb, to_timestamp($4::float8 / 1000))`;
    try {
      await client.query(sql, [session, 0, '{"type":"warmup"}', 0]);
      const figures = await timeColdThenSteady(count, (i) =>
        client.query(sql, [session, i + 1, JSON.stringify(data[i]), data[i].time]),
      );
      return { records: count, ...figures };
    } finally {
      await client.end();
    }
  },

  // Writes the rows the SELECT baseline reads (the same records as our replay session).
  async 'prepare-pg'({ count }) {
    const client = await connect();
    try {
      const session = `replay-${count}`;
      await client.query(`DELETE FROM ${TABLE} WHERE session_id = $1`, [session]);
      const metadata = { type: 'metadata', protocol_version: '1.0', created_at: 1 };
      await bulk['pg-copy'](client, session, [metadata, ...makeRecords(count)]);
      return {};
    } finally {
      await client.end();
    }
  },

  // Replay: one SELECT of the session's rows in order, each record parsed (jsonb -> JSON.parse).
  async replay({ count }) {
    const client = await connect();
    try {
      const result = await measure(async () => {
        const { rows } = await client.query(
          `SELECT record FROM ${TABLE} WHERE session_id = $1 ORDER BY seq`,
          [`replay-${count}`],
        );
        return { restored: rows.length };
      });
      return { ...result, records: count, recordsPerSec: count / (result.ms / 1000) };
    } finally {
      await client.end();
    }
  },
};
