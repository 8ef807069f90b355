import { RecordsInvalidSessionIdError } from '@agent-records/types';
import { describe, expect, it } from 'vitest';
import { RecordsInvalidSessionIdError as ReExported } from './index.js';
import { PostgresAgentRecordPersistence } from './pg-persistence.js';
import { PostgresAgentRecordStore } from './store.js';

// No database needed: ids are checked before any connection is made.
describe('session ids in PostgreSQL', () => {
  it.each([
    ['a/b', /path separator/],
    ['.hidden', /starts with "\."/],
    ['..', /"\.\."/],
    ['tab\there', /control character/],
    ['x'.repeat(176), /176 bytes in UTF-8/],
  ])('refuses %j with the same rule and class as every store', async (id, reason) => {
    expect(() => new PostgresAgentRecordPersistence(id)).toThrow(RecordsInvalidSessionIdError);
    expect(() => new PostgresAgentRecordPersistence(id)).toThrow(reason);
    const store = new PostgresAgentRecordStore({ connectionString: 'postgres://127.0.0.1:1/none' });
    await expect(store.delete(id)).rejects.toBeInstanceOf(RecordsInvalidSessionIdError);
    await store.close();
  });

  it('re-exports the one RecordsInvalidSessionIdError of the types package', () => {
    expect(ReExported).toBe(RecordsInvalidSessionIdError);
  });
});
