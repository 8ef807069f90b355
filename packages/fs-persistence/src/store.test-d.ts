import { AgentRecords } from '@agent-records/core';
import type { AgentRecord, AgentRecordEnvelope } from '@agent-records/types';
import { describe, expectTypeOf, it } from 'vitest';
import { FileSystemAgentRecordPersistence } from './fs-persistence.js';
import { FileSystemAgentRecordStore } from './store.js';

describe('FileSystemAgentRecordStore.open typing (issue 16)', () => {
  it('opens the standard catalog by default, so AgentRecords logs catalog records', () => {
    const store = new FileSystemAgentRecordStore('/tmp/never-touched');
    const persistence = store.open('id');
    expectTypeOf(persistence).toEqualTypeOf<FileSystemAgentRecordPersistence<AgentRecord>>();
    const records = new AgentRecords({ persistence: store.open('id'), protocolVersion: '1.0' });
    records.logRecord({ type: 'turn.prompt', turn_id: 't1', content: 'Hello' });
    // @ts-expect-error a catalog record with a payload of the wrong type
    records.logRecord({ type: 'turn.prompt', turn_id: 't1', content: 42 });
  });

  it('takes the host record type when given one', () => {
    type HostRecord = AgentRecordEnvelope & { type: 'host.event'; detail: string };
    const store = new FileSystemAgentRecordStore('/tmp/never-touched');
    const persistence = store.open<HostRecord>('id');
    expectTypeOf(persistence).toEqualTypeOf<FileSystemAgentRecordPersistence<HostRecord>>();
    persistence.append({ type: 'host.event', detail: 'x' });
  });

  it('the persistence class defaults to the standard catalog too', () => {
    expectTypeOf(new FileSystemAgentRecordPersistence('/tmp/never-touched.jsonl')).toEqualTypeOf<
      FileSystemAgentRecordPersistence<AgentRecord>
    >();
  });
});
