import {
  type AgentRecord,
  type AgentRecordEnvelope,
  RecordsInvalidSessionIdError,
  sessionIdProblem,
} from '@agent-records/types';
import type pg from 'pg';
import { inTransaction, poolFrom, withClient } from './client.js';
import {
  PostgresAgentRecordPersistence,
  type PostgresAgentRecordPersistenceOptions,
} from './pg-persistence.js';
import { ensureSchema } from './schema.js';
import { qualified, sessionStatements, storeStatements } from './sql.js';

export interface PostgresSessionInfo {
  id: string;
  /** Records in the session (its head sequence number). */
  records: number;
  /** Rewrites so far. */
  generation: number;
  createdAt: number;
  modifiedAt: number;
}

/** Sessions in one PostgreSQL table, sharing one pool. */
export class PostgresAgentRecordStore {
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

  async list(): Promise<PostgresSessionInfo[]> {
    await this.ensureSchema();
    const { rows } = await withClient(this.#pool, (client) =>
      client.query<{
        session_id: string;
        head_seq: string;
        generation: string;
        created_at: Date;
        updated_at: Date;
      }>(storeStatements(this.#names).listSessions),
    );
    return rows.map((row) => ({
      id: row.session_id,
      records: Number(row.head_seq),
      generation: Number(row.generation),
      createdAt: row.created_at.getTime(),
      modifiedAt: row.updated_at.getTime(),
    }));
  }

  /** Deletes a session's records and its row, in one transaction. False when there was none. */
  async delete(sessionId: string): Promise<boolean> {
    const problem = sessionIdProblem(sessionId);
    if (problem !== null) throw new RecordsInvalidSessionIdError(sessionId, problem);
    await this.ensureSchema();
    const sql = sessionStatements(this.#names);
    return inTransaction(this.#pool, async (client) => {
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
