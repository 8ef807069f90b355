import { describe, expectTypeOf, it } from 'vitest';
import type {
  AgentRecord,
  AgentRecordOf,
  AgentRecordPersistence,
  AgentRecordType,
} from './index.js';

// A host adds its own record type by declaration merging, exactly as users do with
// `declare module '@agent-records/types'`.
declare module './records.js' {
  interface AgentRecordEvents {
    'host.sandbox_started': { image: string; cpus: number };
  }
}

describe('AgentRecord', () => {
  it('narrows by type', () => {
    const narrow = (record: AgentRecord) => {
      if (record.type === 'turn.prompt') {
        expectTypeOf(record).toEqualTypeOf<AgentRecordOf<'turn.prompt'>>();
        expectTypeOf(record.turn_id).toEqualTypeOf<string>();
      } else if (record.type === 'usage.record') {
        expectTypeOf(record.input_tokens).toEqualTypeOf<number>();
      } else if (record.type === 'metadata') {
        expectTypeOf(record.protocol_version).toEqualTypeOf<string>();
      }
    };
    expectTypeOf(narrow).toBeFunction();
  });

  it('includes a host type added by declaration merging', () => {
    expectTypeOf<'host.sandbox_started'>().toMatchTypeOf<AgentRecordType>();
    const record: AgentRecord = { type: 'host.sandbox_started', image: 'node:20', cpus: 2 };
    if (record.type === 'host.sandbox_started') expectTypeOf(record.cpus).toEqualTypeOf<number>();
  });

  it('accepts a right payload and rejects a wrong one', () => {
    const ok: AgentRecordOf<'turn.prompt'> = { type: 'turn.prompt', turn_id: 't1', content: 'hi' };
    expectTypeOf(ok).toMatchTypeOf<AgentRecord>();

    // @ts-expect-error content must be a string or content parts, not a number
    const wrongPayload: AgentRecord = { type: 'turn.prompt', turn_id: 't1', content: 42 };
    // @ts-expect-error usage.record needs output_tokens
    const missingField: AgentRecord = { type: 'usage.record', model: 'm', input_tokens: 1 };
    // @ts-expect-error an unknown record type is not in the catalog
    const unknownType: AgentRecord = { type: 'no.such.type' };
    // @ts-expect-error time must be a number
    const badTime: AgentRecordOf<'context.clear'> = { type: 'context.clear', time: 'now' };
    void [wrongPayload, missingField, unknownType, badTime];
  });

  it('takes a host catalog as the type parameter', () => {
    interface MyEvents {
      start: { at: number };
      stop: { reason: string };
    }
    type Mine = AgentRecord<MyEvents>;
    expectTypeOf<Mine['type']>().toEqualTypeOf<'start' | 'stop'>();
    // @ts-expect-error 'stop' needs a reason
    const bad: Mine = { type: 'stop' };
    void bad;
  });

  it('types the persistence contract', () => {
    expectTypeOf<AgentRecordPersistence<AgentRecord>['append']>()
      .parameter(0)
      .toEqualTypeOf<AgentRecord>();
    expectTypeOf<AgentRecordPersistence['append']>().returns.toEqualTypeOf<void>();
    expectTypeOf<AgentRecordPersistence['flush']>().returns.toEqualTypeOf<Promise<void>>();
  });
});
