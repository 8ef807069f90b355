// Connection to the real PostgreSQL these tests need. Under CI=true an unreachable server fails
// the run loudly; elsewhere the tests are skipped with the reason printed.
import { randomUUID } from 'node:crypto';
import pg from 'pg';

export const DATABASE_URL =
  process.env.AGENT_RECORDS_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

async function probe(): Promise<string | null> {
  const client = new pg.Client({ connectionString: DATABASE_URL, connectionTimeoutMillis: 3000 });
  try {
    await client.connect();
    await client.query('SELECT 1');
    return null;
  } catch (error) {
    return `cannot reach PostgreSQL at ${DATABASE_URL}: ${(error as Error).message}`;
  } finally {
    await client.end().catch(() => {});
  }
}

const unreachable = await probe();
if (unreachable) {
  if (process.env.CI === 'true') {
    throw new Error(
      `${unreachable}. CI needs it: .ci/run starts the local cluster; check it is installed.`,
    );
  }
  console.log(`skipping PostgreSQL tests: ${unreachable}`);
}
export const available = unreachable === null;

export function newPool(options: pg.PoolConfig = {}): pg.Pool {
  const pool = new pg.Pool({ connectionString: DATABASE_URL, max: 4, ...options });
  pool.on('error', () => {});
  return pool;
}

/** A fresh schema name for one test file; drop it with `dropSchema`. */
export function schemaName(): string {
  return `ar_test_${randomUUID().replaceAll('-', '').slice(0, 12)}`;
}

export async function dropSchema(schema: string): Promise<void> {
  const pool = newPool({ max: 1 });
  try {
    await pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  } finally {
    await pool.end();
  }
}

/**
 * Polls `check` until it returns true, or fails naming `what` after `timeoutMs`: background work
 * is waited for with a deadline, never with a fixed sleep.
 */
export async function waitFor(
  what: string,
  check: () => boolean | Promise<boolean>,
  timeoutMs = 15_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/**
 * The generation of a session's row (null: no row). Generations come from a sequence (schema
 * version 3), so tests ask for them instead of expecting a number.
 */
export async function generationOf(
  pool: pg.Pool,
  schema: string,
  sessionId: string,
  table = 'agent_records',
): Promise<number | null> {
  const { rows } = await pool.query<{ generation: string }>(
    `SELECT generation FROM "${schema}"."${table}_sessions" WHERE session_id = $1`,
    [sessionId],
  );
  return rows[0] ? Number(rows[0].generation) : null;
}
