// A pool whose clients can be held at one statement until the test releases them: the seam that
// puts another event (a COMMIT, a flush() call, a fault cleared) at an exact point of a query
// sequence, every time, with no timing involved.
import type pg from 'pg';
import { newPool } from './database.js';

export interface Pause {
  /** Resolves once a statement matching the pause is held. */
  paused: Promise<void>;
  /** Lets the held statement go on. */
  release(): void;
}

export interface PausingPool {
  pool: pg.Pool;
  /** Holds the next statement whose text matches, once (later ones run as usual). */
  pauseNext(matches: (text: string) => boolean): Pause;
}

/**
 * Only clients checked out with `pool.connect()` (promise form, as the backend does) are held;
 * `pool.query` uses the callback form and is not wrapped, so use another pool for setup.
 */
export function pausingPool(options: pg.PoolConfig = {}): PausingPool {
  const pool = newPool({ max: 4, ...options });
  let pause: { matches(text: string): boolean; reached(): void; gate: Promise<void> } | null = null;
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
        const held = pause;
        if (held?.matches(text)) {
          pause = null;
          held.reached();
          await held.gate;
        }
        return query(...args);
      };
    }
    return client;
  };
  return {
    pool,
    pauseNext(matches) {
      let reached = () => {};
      let release = () => {};
      const paused = new Promise<void>((resolve) => {
        reached = resolve;
      });
      const gate = new Promise<void>((resolve) => {
        release = resolve;
      });
      pause = { matches, reached, gate };
      return { paused, release };
    },
  };
}
