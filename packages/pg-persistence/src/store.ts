import {
  type AgentRecord,
  type AgentRecordEnvelope,
  type AgentRecordStore,
  assertSessionId,
  type ListSessionsOptions,
  type SessionSummary,
} from '@agent-records/types';
import type pg from 'pg';
import { inTransaction, poolFrom, withClient } from './client.js';
import {
  PostgresAgentRecordPersistence,
  type PostgresAgentRecordPersistenceOptions,
} from './pg-persistence.js';
import { ensureSchema } from './schema.js';
import { qualified, sessionStatements, storeStatements } from './sql.js';

/** A session as `list()` describes it: its summary, from the sessions table. */
export interface PostgresSessionInfo extends SessionSummary {
  /** Records in the session (its head sequence number), metadata included. */
  readonly records: number;
  /**
   * The log's generation: taken from a sequence when the session is made and at each rewrite, so
   * it changes with every rewrite and is never the same for a session deleted and made again
   * (until schema version 3 it counted rewrites, from 0). Positions (`{ seq, generation }`) hold it.
   */
  readonly generation: number;
  /** @deprecated The same as `updatedAt` (its name before session summaries). */
  readonly modifiedAt: number;
}

interface SummaryRow {
  session_id: string;
  head_seq: string;
  generation: string;
  bytes: string;
  title: string | null;
  created_at: Date;
  updated_at: Date;
}

/** Sessions in one PostgreSQL table, sharing one pool. */
export class PostgresAgentRecordStore
  implements AgentRecordStore<PostgresAgentRecordPersistence, PostgresSessionInfo>
{
  readonly #pool: pg.Pool;
  readonly #ownsPool: boolean;
  readonly #options: PostgresAgentRecordPersistenceOptions;
  readonly #names: ReturnType<typeof qualified>;
  #ready: Promise<void> | null = null;

  constructor(options: PostgresAgentRecordPersistenceOptions = {}) {
    this.#ownsPool = !options.pool;
    this.#pool = poolFrom(options);
    this.#options = { ...options, pool: this.#pool };
    this.#names = qualified({
      schema: options.schema ?? 'public',
      table: options.table ?? 'agent_records',
    });
  }

  /** Creates or upgrades the tables (idempotent; safe from many processes at once). */
  ensureSchema(): Promise<void> {
    this.#ready ??= ensureSchema(this.#pool, {
      schema: this.#options.schema ?? 'public',
      table: this.#options.table ?? 'agent_records',
    }).catch((error) => {
      this.#ready = null;
      throw error;
    });
    return this.#ready;
  }

  /**
   * The persistence of one session, on the store's pool. Typed with the standard catalog
   * (`AgentRecord`) unless a host names its own record type.
   */
  open<R extends AgentRecordEnvelope = AgentRecord>(
    sessionId: string,
    options: Omit<PostgresAgentRecordPersistenceOptions, 'pool' | 'schema' | 'table'> = {},
  ): PostgresAgentRecordPersistence<R> {
    return new PostgresAgentRecordPersistence<R>(sessionId, {
      ...this.#options,
      ...options,
      pool: this.#pool,
    });
  }

  /**
   * Sessions by last activity (`updatedAt`, newest first, then id in code point order), from
   * the sessions table and its activity index; never reads a log. `limit` pages; `after` (the
   * last summary of the previous page) starts after it.
   */
  async list(options: ListSessionsOptions = {}): Promise<PostgresSessionInfo[]> {
    const { limit, after } = checkListOptions(options);
    await this.ensureSchema();
    const sql = storeStatements(this.#names);
    const { rows } = await withClient(this.#pool, (client) =>
      after === undefined
        ? client.query<SummaryRow>(sql.listFirst, [limit ?? null])
        : client.query<SummaryRow>(sql.listAfter, [
            limit ?? null,
            new Date(after.updatedAt),
            after.id,
          ]),
    );
    return rows.map((row) => {
      const updatedAt = row.updated_at.getTime();
      return {
        id: row.session_id,
        createdAt: row.created_at.getTime(),
        updatedAt,
        records: Number(row.head_seq),
        bytes: Number(row.bytes),
        ...(row.title !== null && { title: row.title }),
        generation: Number(row.generation),
        modifiedAt: updatedAt,
      };
    });
  }

  /**
   * Deletes a session's records, its snapshot and its row (summary, title), in one transaction.
   * False when there was none.
   */
  async delete(sessionId: string): Promise<boolean> {
    assertSessionId(sessionId);
    await this.ensureSchema();
    const sql = sessionStatements(this.#names);
    return inTransaction(this.#pool, async (client) => {
      await client.query(sql.deleteSnapshot, [sessionId]);
      await client.query(sql.deleteRecords, [sessionId]);
      const deleted = await client.query(sql.deleteSession, [sessionId]);
      return deleted.rowCount === 1;
    });
  }

  /** Ends the pool if the store made it. */
  async close(): Promise<void> {
    if (this.#ownsPool) await this.#pool.end();
  }
}

/** `list()`'s options, checked: a wrong type would otherwise page wrongly without a word. */
function checkListOptions(options: ListSessionsOptions): ListSessionsOptions {
  const { limit, after } = options;
  if (limit !== undefined && !(Number.isSafeInteger(limit) && limit >= 0)) {
    throw new TypeError(`list({ limit }) takes an integer >= 0; got ${String(limit)}.`);
  }
  if (after !== undefined && (typeof after?.id !== 'string' || !Number.isFinite(after.updatedAt))) {
    throw new TypeError(
      'list({ after }) takes the last summary of the previous page ({ id, updatedAt }).',
    );
  }
  return options;
}
