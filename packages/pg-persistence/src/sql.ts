// Every SQL statement of the backend, in one place. Table names are checked identifiers,
// quoted here; every value is a bind parameter.

/**
 * Where the records live: `"schema"."table"`, and beside it `"schema"."table_sessions"`,
 * `"schema"."table_snapshots"` and `"schema"."table_meta"`.
 */
export interface TableNames {
  schema: string;
  table: string;
}

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;
/** 63 minus the longest suffix of a derived name (`_snapshots`). */
const MAX_TABLE_NAME = 63 - '_snapshots'.length;

export function checkIdentifier(kind: string, value: string): string {
  if (!IDENTIFIER.test(value)) {
    throw new TypeError(
      `Invalid ${kind} name ${JSON.stringify(value)}: use letters, digits and underscores (at most 63, not starting with a digit).`,
    );
  }
  return value;
}

/** The quoted names of the tables, checked (a bad name throws `TypeError` here, before any query). */
export function qualified(names: TableNames) {
  const schema = `"${checkIdentifier('schema', names.schema)}"`;
  const table = checkIdentifier('table', names.table);
  if (table.length > MAX_TABLE_NAME) {
    // PostgreSQL cuts longer identifiers to 63 characters without a word, so two stores could
    // end up sharing a sessions or snapshots table.
    throw new TypeError(
      `Invalid table name ${JSON.stringify(table)}: the table name "${table}" is ${table.length} characters: at most ${MAX_TABLE_NAME}, so that ` +
        `"<table>_snapshots", the longest name derived from it, fits PostgreSQL's 63.`,
    );
  }
  return {
    schema,
    records: `${schema}."${table}"`,
    sessions: `${schema}."${table}_sessions"`,
    meta: `${schema}."${table}_meta"`,
    snapshots: `${schema}."${table}_snapshots"`,
    /** The sequence every new generation is taken from (schema version 3). */
    generations: `${schema}."${table}_gen_seq"`,
    /** The index `list()` walks (created in the schema of the sessions table). */
    activityIndex: `"${table}_activity"`,
    lockKey: `agent-records:${names.schema}.${table}`,
  };
}

export type QualifiedNames = ReturnType<typeof qualified>;

/** The first generation the sequence of schema version 3 gives (2^32). */
const FIRST_GENERATION = 2 ** 32;

/** Times in the sessions table are kept to the millisecond: `list()` pages by them in epoch ms. */
const NOW_MS = "date_trunc('milliseconds', now())";

export const BEGIN = 'BEGIN';
export const COMMIT = 'COMMIT';
export const ROLLBACK = 'ROLLBACK';
/**
 * A read's transaction, sent as one simple query (one round trip). Each page must walk the
 * primary key from the last seq. On a freshly filled table the statistics say "a few rows" and
 * the planner picks a bitmap scan that reads every later row of the session per page (50 ms
 * instead of 1 ms per page): ruled out for the transaction.
 */
export const BEGIN_SNAPSHOT_READ =
  'BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; ' +
  'SET LOCAL enable_bitmapscan = off; SET LOCAL enable_seqscan = off';

/** Creating and upgrading the tables (see `ensureSchema`). */
export function schemaStatements(q: QualifiedNames) {
  return {
    /** $1: the lock key. */
    lock: 'SELECT pg_advisory_xact_lock(hashtext($1))',
    createSchema: `CREATE SCHEMA IF NOT EXISTS ${q.schema}`,
    createMeta: `CREATE TABLE IF NOT EXISTS ${q.meta} (key text PRIMARY KEY, value text NOT NULL)`,
    selectVersion: `SELECT value FROM ${q.meta} WHERE key = 'schema_version'`,
    // One row per record; (session_id, seq) is the key, and the sessions row holds the head
    // sequence number that every write moves with a compare-and-set: the fence. jsonb cannot
    // hold U+0000: a record with one keeps its exact JSON in record_json (jsonb gets U+FFFD).
    createRecords: `CREATE TABLE IF NOT EXISTS ${q.records} (
        session_id text NOT NULL,
        seq bigint NOT NULL,
        record jsonb NOT NULL,
        record_json text,
        time timestamptz,
        PRIMARY KEY (session_id, seq)
      )`,
    // Version 1's sessions table; version 2 adds to it (upgradeTo2).
    createSessions: `CREATE TABLE IF NOT EXISTS ${q.sessions} (
        session_id text PRIMARY KEY,
        head_seq bigint NOT NULL DEFAULT 0,
        generation bigint NOT NULL DEFAULT 0,
        last_batch text,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now()
      )`,
    /**
     * Version 2: the summary `list()` answers from (bytes, title; times kept to the millisecond,
     * as `list()` pages by them in epoch ms), its index, and the snapshots table. Existing rows
     * get their bytes counted from their records once, here.
     */
    upgradeTo2: [
      `ALTER TABLE ${q.sessions}
         ADD COLUMN IF NOT EXISTS bytes bigint NOT NULL DEFAULT 0,
         ADD COLUMN IF NOT EXISTS title text,
         ALTER COLUMN created_at SET DEFAULT ${NOW_MS},
         ALTER COLUMN updated_at SET DEFAULT ${NOW_MS}`,
      `UPDATE ${q.sessions} AS s SET
         created_at = date_trunc('milliseconds', s.created_at),
         updated_at = date_trunc('milliseconds', s.updated_at),
         bytes = COALESCE((SELECT sum(octet_length(COALESCE(r.record_json, r.record::text)) + 1)
                           FROM ${q.records} AS r WHERE r.session_id = s.session_id), 0)`,
      `CREATE INDEX IF NOT EXISTS ${q.activityIndex}
         ON ${q.sessions} (updated_at DESC, session_id COLLATE "C")`,
      // One snapshot per session, the newest; seq and generation are the position it covers.
      `CREATE TABLE IF NOT EXISTS ${q.snapshots} (
         session_id text PRIMARY KEY,
         seq bigint NOT NULL,
         generation bigint NOT NULL,
         records bigint NOT NULL,
         written_at timestamptz NOT NULL,
         data text NOT NULL
       )`,
    ],
    /**
     * Version 3: generations never repeat for a session id. A new sessions row (its default)
     * and every rewrite take the next value of one sequence, so a position of a deleted (or
     * rewritten) log can never match a later one. It starts above every generation already
     * stored and at 2^32 at least: far above what the rewrites of a session deleted before the
     * upgrade can have counted to (generations were counts of rewrites then). At most 2^53 - 1,
     * so every generation is a safe JavaScript integer.
     */
    upgradeTo3: [
      `CREATE SEQUENCE IF NOT EXISTS ${q.generations} AS bigint
         MINVALUE 1 MAXVALUE ${Number.MAX_SAFE_INTEGER} START WITH ${FIRST_GENERATION}`,
      `SELECT setval('${q.generations}',
         greatest(${FIRST_GENERATION}, (SELECT COALESCE(max(generation), 0) + 1 FROM ${q.sessions})), false)`,
      `ALTER TABLE ${q.sessions} ALTER COLUMN generation SET DEFAULT nextval('${q.generations}')`,
    ],
    /** $1: the version. */
    setVersion: `INSERT INTO ${q.meta} (key, value) VALUES ('schema_version', $1)
         ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value`,
  };
}

/** Reading and writing one session's records; $1 is always the session id. */
export function sessionStatements(q: QualifiedNames) {
  // A rewrite ($5 = 1) takes a new generation from the sequence: never one used before.
  const moveHead = `UPDATE ${q.sessions}
         SET head_seq = $2, last_batch = $3,
             generation = CASE WHEN $5 = 1 THEN nextval('${q.generations}') ELSE generation END,
             updated_at = CASE WHEN $2 = head_seq AND $5 = 0 THEN updated_at ELSE ${NOW_MS} END,
             bytes = CASE WHEN $5 = 1 THEN 0 ELSE bytes END + $7::bigint,
             title = COALESCE($8::text, title),
             created_at = COALESCE(date_trunc('milliseconds', to_timestamp($9::float8 / 1000)), created_at)`;
  return {
    selectHead: `SELECT head_seq, generation FROM ${q.sessions} WHERE session_id = $1`,
    selectHeadAndBatch: `SELECT head_seq, generation, last_batch FROM ${q.sessions} WHERE session_id = $1`,
    /**
     * Makes the sessions row if there is none and answers it, in one round trip. No row when
     * another transaction made it after this statement began (this one's snapshot does not
     * see it): then `selectHeadAndBatch` reads it.
     */
    ensureAndSelectHead: `WITH made AS (
         INSERT INTO ${q.sessions} (session_id) VALUES ($1) ON CONFLICT (session_id) DO NOTHING
         RETURNING head_seq, generation, last_batch
       )
       SELECT head_seq, generation, last_batch FROM made
       UNION ALL
       SELECT head_seq, generation, last_batch FROM ${q.sessions}
         WHERE session_id = $1 AND NOT EXISTS (SELECT FROM made)`,
    /**
     * The fence, which also keeps the summary (no round trip of its own; `updated_at` is the last
     * write to the log, so a batch holding only a title leaves it): $2 new head, $3 batch
     * id, $4 expected head, $5 1 for a rewrite (the bytes start again), $6 expected generation,
     * $7 bytes written, $8 a new title (null: keep), $9 the new log's `created_at` in epoch ms
     * (its first record's, for a batch that writes row 1; null: keep). Answers the generation
     * (a rewrite's new one).
     */
    moveHead: `${moveHead} WHERE session_id = $1 AND head_seq = $4 AND generation = $6
         RETURNING generation`,
    /**
     * A batch of appends in one autocommitted statement (one round trip, atomic as any
     * statement): the fence above ($5 is 0) and, only when it moved the head, the rows ($10
     * seqs, $11 JSON texts for jsonb, $12 exact JSON or null, $13 times in epoch ms). Answers
     * `moved`: 0 when the head or generation was not the expected one (nothing was written).
     */
    appendBatch: `WITH fence AS (
         ${moveHead} WHERE session_id = $1 AND head_seq = $4 AND generation = $6
         RETURNING session_id
       ), inserted AS (
         INSERT INTO ${q.records} (session_id, seq, record, record_json, time)
         SELECT fence.session_id, s, r::jsonb, e, to_timestamp(t / 1000)
         FROM fence, unnest($10::bigint[], $11::text[], $12::text[], $13::float8[]) AS x(s, r, e, t)
       )
       SELECT count(*)::int AS moved FROM fence`,
    deleteRecords: `DELETE FROM ${q.records} WHERE session_id = $1`,
    /** $2 seqs, $3 JSON texts for jsonb, $4 exact JSON (or null), $5 times in epoch ms. */
    insertRecords: `INSERT INTO ${q.records} (session_id, seq, record, record_json, time)
       SELECT $1, s, r::jsonb, e, to_timestamp(t / 1000)
       FROM unnest($2::bigint[], $3::text[], $4::text[], $5::float8[]) AS x(s, r, e, t)`,
    /** One keyset page: $2 after this seq, $3 up to this seq. */
    selectPage: (pageSize: number) =>
      `SELECT seq, COALESCE(record_json, record::text) AS record FROM ${q.records}
             WHERE session_id = $1 AND seq > $2 AND seq <= $3 ORDER BY session_id, seq LIMIT ${pageSize}`,
    deleteSession: `DELETE FROM ${q.sessions} WHERE session_id = $1`,
    /** A rewrite makes the snapshot unusable: deleted in the rewrite's transaction. */
    deleteSnapshot: `DELETE FROM ${q.snapshots} WHERE session_id = $1`,
    /**
     * Stores the newest snapshot: $2 seq, $3 generation, $4 records, $5 data. Only while the
     * session is still in that generation with at least that many rows; the sessions row is
     * locked (FOR SHARE), so a rewrite committing meanwhile is waited for and then seen.
     */
    upsertSnapshot: `INSERT INTO ${q.snapshots} (session_id, seq, generation, records, written_at, data)
         SELECT session_id, $2, $3, $4, ${NOW_MS}, $5 FROM ${q.sessions}
         WHERE session_id = $1 AND generation = $3 AND head_seq >= $2 FOR SHARE
       ON CONFLICT (session_id) DO UPDATE SET seq = EXCLUDED.seq, generation = EXCLUDED.generation,
         records = EXCLUDED.records, written_at = EXCLUDED.written_at, data = EXCLUDED.data`,
    selectSnapshot: `SELECT seq, generation, records, written_at, data FROM ${q.snapshots} WHERE session_id = $1`,
  };
}

const SUMMARY = 'session_id, head_seq, generation, bytes, title, created_at, updated_at';

/** The store's listing. */
export function storeStatements(q: QualifiedNames) {
  return {
    /** $1: at most this many (null: all). Walks the activity index. */
    listFirst: `SELECT ${SUMMARY} FROM ${q.sessions}
         ORDER BY updated_at DESC, session_id COLLATE "C" LIMIT $1`,
    /** The page after ($2 updated_at, $3 id): a range of the activity index, then a filter. */
    listAfter: `SELECT ${SUMMARY} FROM ${q.sessions}
         WHERE updated_at <= $2 AND (updated_at < $2 OR session_id COLLATE "C" > $3)
         ORDER BY updated_at DESC, session_id COLLATE "C" LIMIT $1`,
  };
}
