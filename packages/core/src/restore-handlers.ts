import type { AgentRecord, AgentRecordEnvelope } from '@agent-records/types';
import type { RestoreContext, RestoreFunction } from './agent-records.js';

/** One handler per record type, each receiving that type's record, narrowed. */
export type RestoreHandlers<R extends AgentRecordEnvelope = AgentRecord> = {
  [Type in R['type']]?: (record: Extract<R, { type: Type }>, context: RestoreContext) => void;
};

/**
 * Builds a `restore` function from a map of handlers keyed by record type. Records without a
 * handler go to `onUnhandled` (default: ignored), so adding record types never breaks replay.
 */
export function createRestore<R extends AgentRecordEnvelope = AgentRecord>(
  handlers: RestoreHandlers<R>,
  options: { onUnhandled?: RestoreFunction<R> } = {},
): RestoreFunction<R> {
  return (record, context) => {
    const handler = (handlers as Record<string, RestoreFunction<R> | undefined>)[record.type];
    if (handler) handler(record, context);
    else options.onUnhandled?.(record, context);
  };
}
