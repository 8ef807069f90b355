// A pool that records the text of every statement its checked-out clients send, in order: the
// seam that shows what reached the server before what (a snapshot only after its rows' COMMIT).
import type pg from 'pg';
import { newPool } from './database.js';

/** `statements`: `> TEXT` when a statement is sent, `< TEXT` when answered (its first 3 words). */
export function recordingPool(options: pg.PoolConfig = {}): {
  pool: pg.Pool;
  statements: string[];
} {
  const pool = newPool({ max: 4, ...options });
  const statements: string[] = [];
  const wrapped = new WeakSet<object>();
  const connect = pool.connect.bind(pool) as () => Promise<pg.PoolClient>;
  type Query = (...args: unknown[]) => Promise<unknown>;
  (pool as unknown as { connect: () => Promise<pg.PoolClient> }).connect = async () => {
    const client = await connect();
    if (!wrapped.has(client)) {
      wrapped.add(client);
      const query = client.query.bind(client) as Query;
      (client as unknown as { query: Query }).query = async (...args: unknown[]) => {
        const first = args[0];
        const text = typeof first === 'string' ? first : ((first as { text?: string }).text ?? '');
        // Each statement twice: `> ` when sent, `< ` once answered (ok or not).
        const short = text.trim().split(/\s+/).slice(0, 3).join(' ');
        statements.push(`> ${short}`);
        try {
          return await query(...args);
        } finally {
          statements.push(`< ${short}`);
        }
      };
    }
    return client;
  };
  return { pool, statements };
}
