import { serializeRecord } from '@agent-records/backend-kit';
import { RecordsInvalidError, RecordsSerializeError } from '@agent-records/types';

export type RefusedRecordError = RecordsSerializeError | RecordsInvalidError;

export function isRefusedRecord(error: unknown): error is RefusedRecordError {
  return error instanceof RecordsSerializeError || error instanceof RecordsInvalidError;
}

/** The refusal a rewrite would meet, checked in chunks so a long one does not stall the loop. */
export async function refusalIn(records: readonly unknown[]): Promise<RefusedRecordError | null> {
  for (let i = 0; i < records.length; i++) {
    if (i > 0 && i % 10_000 === 0) await new Promise((resolve) => setImmediate(resolve));
    try {
      serializeRecord(records[i]);
    } catch (error) {
      if (isRefusedRecord(error)) return error;
      throw error;
    }
  }
  return null;
}
