import { AgentRecords } from '@agent-records/core';
import type { AgentRecord, AgentRecordEnvelope } from '@agent-records/types';
import pg from 'pg';
import { describe, expectTypeOf, it } from 'vitest';
import { PostgresAgentRecordPersistence } from './pg-persistence.js';
import { ensureSchema } from './schema.js';
import { PostgresAgentRecordStore } from './store.js';

// Types only: nothing here connects (a pg.Pool connects on its first query).
describe('PostgresAgentRecordStore.open typing (issue 16)', () => {
  it('opens the standard catalog by default, so AgentRecords logs catalog records', () => {
    const store = new PostgresAgentRecordStore({ connectionString: 'postgres://never-used' });
    expectTypeOf(store.open('id')).toEqualTypeOf<PostgresAgentRecordPersistence<AgentRecord>>();
    const records = new AgentRecords({ persistence: store.open('id'), protocolVersion: '1.0' });
    records.logRecord({ type: 'turn.prompt', turn_id: 't1', content: 'Hello' });
    // @ts-expect-error a catalog record with a payload of the wrong type
    records.logRecord({ type: 'turn.prompt', turn_id: 't1', content: 42 });
  });

  it('takes the host record type when given one', () => {
    type HostRecord = AgentRecordEnvelope & { type: 'host.event'; detail: string };
    const store = new PostgresAgentRecordStore({ connectionString: 'postgres://never-used' });
    const persistence = store.open<HostRecord>('id');
    expectTypeOf(persistence).toEqualTypeOf<PostgresAgentRecordPersistence<HostRecord>>();
    persistence.append({ type: 'host.event', detail: 'x' });
  });

  it('the persistence class defaults to the standard catalog too', () => {
    expectTypeOf(new PostgresAgentRecordPersistence('id')).toEqualTypeOf<
      PostgresAgentRecordPersistence<AgentRecord>
    >();
  });
});

describe('a real pg.Pool is accepted where the package takes a pool (why @types/pg is a dependency)', () => {
  it('the store, the persistence and ensureSchema take a pg.Pool', () => {
    const pool = new pg.Pool({ connectionString: 'postgres://never-used' });
    expectTypeOf(new PostgresAgentRecordStore({ pool })).toEqualTypeOf<PostgresAgentRecordStore>();
    expectTypeOf(new PostgresAgentRecordPersistence('id', { pool })).toEqualTypeOf<
      PostgresAgentRecordPersistence<AgentRecord>
    >();
    expectTypeOf(ensureSchema).parameter(0).toEqualTypeOf<pg.Pool>();
  });
});
