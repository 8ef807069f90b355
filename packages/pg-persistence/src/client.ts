import pg from 'pg';
import { BEGIN, COMMIT, ROLLBACK } from './sql.js';

/**
 * The pool to use: the given one, or one made from `connectionString` (else the `PG*`
 * environment variables). Either way it gets an 'error' listener: an idle client whose server
 * went away emits 'error' on the pool, which unhandled would crash the host; the next query
 * fails instead and is handled as a failure episode.
 */
export function poolFrom(options: { pool?: pg.Pool; connectionString?: string }): pg.Pool {
  const pool =
    options.pool ??
    new pg.Pool(options.connectionString ? { connectionString: options.connectionString } : {});
  if (pool.listenerCount('error') === 0) pool.on('error', () => {});
  return pool;
}

/**
 * A pooled client with an error listener for as long as it is held: a server that goes away
 * makes a checked-out client emit 'error', which would otherwise crash the host process.
 * `release(true)` destroys the connection instead of returning it to the pool.
 */
export async function checkout(pool: pg.Pool): Promise<pg.PoolClient> {
  const client = await pool.connect();
  const ignore = () => {};
  client.on('error', ignore);
  const release = client.release.bind(client);
  client.release = (destroy?: boolean | Error) => {
    client.off('error', ignore);
    client.release = release;
    release(destroy);
  };
  return client;
}

/**
 * Runs `work` on a pooled client (see `checkout`) and releases it. When `work` throws, the
 * connection is destroyed rather than reused, unless `reusable(error)` says it is known to be
 * fine (the server answered, and the transaction was rolled back).
 */
export async function withClient<T>(
  pool: pg.Pool,
  work: (client: pg.PoolClient) => Promise<T>,
  reusable: (error: unknown) => boolean = () => false,
): Promise<T> {
  const client = await checkout(pool);
  let broken = false;
  try {
    return await work(client);
  } catch (error) {
    broken = !reusable(error);
    throw error;
  } finally {
    client.release(broken ? true : undefined);
  }
}

/**
 * Runs `work` in one transaction on a pooled client; rolls back if it throws. The client is
 * reused after a rollback that worked.
 */
export async function inTransaction<T>(
  pool: pg.Pool,
  work: (client: pg.PoolClient) => Promise<T>,
): Promise<T> {
  return withClient(
    pool,
    async (client) => {
      await client.query(BEGIN);
      try {
        const result = await work(client);
        await client.query(COMMIT);
        return result;
      } catch (error) {
        await client.query(ROLLBACK).catch(() => {});
        throw error;
      }
    },
    () => true,
  );
}
