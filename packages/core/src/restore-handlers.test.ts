import type { AgentRecord } from '@agent-records/types';
import { describe, expect, expectTypeOf, it } from 'vitest';
import { createRestore } from './restore-handlers.js';

describe('createRestore', () => {
  it('dispatches each record to the handler for its type, narrowed', () => {
    const state = { prompts: [] as string[], tokens: 0, unhandled: [] as string[] };
    const restore = createRestore<AgentRecord>(
      {
        'turn.prompt': (record) => {
          expectTypeOf(record.turn_id).toEqualTypeOf<string>();
          state.prompts.push(typeof record.content === 'string' ? record.content : '[parts]');
        },
        'usage.record': (record, { time }) => {
          state.tokens += record.input_tokens + record.output_tokens;
          expect(time).toBe(7);
        },
      },
      { onUnhandled: (record) => state.unhandled.push(record.type) },
    );
    restore({ type: 'turn.prompt', turn_id: 't', content: 'hi' }, { time: 1 });
    restore({ type: 'usage.record', model: 'm', input_tokens: 2, output_tokens: 3 }, { time: 7 });
    restore({ type: 'context.clear' }, { time: 8 });
    expect(state).toEqual({ prompts: ['hi'], tokens: 5, unhandled: ['context.clear'] });
  });

  it('ignores unhandled types by default', () => {
    const restore = createRestore<AgentRecord>({});
    expect(() => restore({ type: 'context.clear' }, { time: 0 })).not.toThrow();
  });
});
