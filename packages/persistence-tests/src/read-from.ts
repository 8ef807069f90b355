// Reading through the readFrom capability, for the suites.
import type {
  AgentRecordEnvelope,
  AgentRecordPersistence,
  RecordsBatch,
  RecordsPosition,
} from '@agent-records/types';

type Persistence = AgentRecordPersistence<AgentRecordEnvelope>;
type Rec = AgentRecordEnvelope & { n?: number };

export interface CollectedBatch {
  records: Rec[];
  end: RecordsPosition | null;
}

/** Every batch of `readFrom(position)`, checked for shape: durable ends first, `null` only last. */
export async function readFromAll(
  persistence: Persistence,
  position: RecordsPosition | null,
): Promise<CollectedBatch[]> {
  const readFrom = persistence.readFrom?.bind(persistence);
  if (!readFrom) throw new Error('the persistence has no readFrom');
  const out: CollectedBatch[] = [];
  for await (const batch of readFrom(position) as AsyncIterable<
    RecordsBatch<AgentRecordEnvelope>
  >) {
    if (out.at(-1)?.end === null) {
      throw new Error('readFrom yielded a batch after the one with end: null (it must be last)');
    }
    out.push({ records: [...batch.records] as Rec[], end: batch.end });
  }
  return out;
}

export const recordsOf = (batches: CollectedBatch[]): Rec[] =>
  batches.flatMap((batch) => batch.records);

/** The position after the last durable record, from `readFrom(null)` once everything is flushed. */
export async function endPosition(persistence: Persistence): Promise<RecordsPosition | null> {
  const batches = await readFromAll(persistence, null);
  return batches.at(-1)?.end ?? null;
}
