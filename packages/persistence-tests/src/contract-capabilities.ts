// Example tests of the optional capabilities (issue 15): reads from a position, snapshots and
// titles. Each group is registered only when the backend offers the capability (or claims it
// with `expectCapabilities`, so that a missing one fails loudly instead of going unnoticed).
import {
  type AgentRecordEnvelope,
  type RecordsErrorInfo,
  type RecordsPosition,
  RecordsPositionError,
} from '@agent-records/types';
import { describe, expect, it } from 'vitest';
import type { PersistenceCapability } from './capabilities.js';
import type { ExampleContext } from './contract-examples.js';
import { registerSnapshotExamples } from './contract-snapshots.js';
import { endPosition, readFromAll, recordsOf } from './read-from.js';

type Rec = AgentRecordEnvelope & { n?: number };

const numbered = (count: number, start = 0): Rec[] =>
  Array.from({ length: count }, (_, i) => ({ type: 'test.record', n: start + i }));

export function registerCapabilityExamples(
  context: ExampleContext,
  capabilities: ReadonlySet<PersistenceCapability>,
): void {
  if (capabilities.has('readFrom')) describe('readFrom', () => registerReadFromExamples(context));
  if (capabilities.has('snapshots')) {
    describe('snapshots', () => registerSnapshotExamples(context, capabilities.has('readFrom')));
  }
  if (capabilities.has('title')) describe('setTitle', () => registerTitleExamples(context));
}

function registerReadFromExamples(context: ExampleContext): void {
  it('reads a log that was never written as no records', async () => {
    expect(recordsOf(await readFromAll(context.open(), null))).toEqual([]);
  });

  it('yields every record once, durable batches with a position, unwritten ones last with end null', async () => {
    const persistence = context.open();
    for (const record of numbered(30)) persistence.append(record);
    await persistence.flush();
    for (const record of numbered(5, 30)) persistence.append(record);
    const batches = await readFromAll(persistence, null);
    expect(recordsOf(batches)).toEqual(numbered(35));
    // Flushed records are durable: they come with positions.
    let durable = 0;
    for (const batch of batches) if (batch.end !== null) durable += batch.records.length;
    expect(durable).toBeGreaterThanOrEqual(30);
    await persistence.flush();
    const flushed = await readFromAll(persistence, null);
    expect(flushed.every((batch) => batch.end !== null)).toBe(true);
    expect(recordsOf(flushed)).toEqual(numbered(35));
  });

  it('reads on from the end of each batch, and from an earlier end after more appends', async () => {
    const persistence = context.open();
    for (const record of numbered(2500)) persistence.append(record);
    await persistence.flush();
    const batches = await readFromAll(persistence, null);
    let before = 0;
    for (const batch of batches) {
      before += batch.records.length;
      const rest = recordsOf(await readFromAll(persistence, batch.end));
      expect(rest).toEqual(numbered(2500 - before, before));
    }
    const end = batches.at(-1)?.end ?? null;
    expect(end).not.toBeNull();
    for (const record of numbered(3, 2500)) persistence.append(record);
    expect(recordsOf(await readFromAll(persistence, end))).toEqual(numbered(3, 2500));
    await persistence.flush();
    expect(recordsOf(await readFromAll(persistence, end))).toEqual(numbered(3, 2500));
  });

  it('a position is flat JSON data that still holds after a round trip and a reopen', async () => {
    let persistence = context.open();
    for (const record of numbered(4)) persistence.append(record);
    await persistence.flush();
    const end = await endPosition(persistence);
    const copied = JSON.parse(JSON.stringify(end)) as RecordsPosition;
    expect(copied).toEqual(end);
    for (const value of Object.values(copied)) {
      expect(['string', 'number', 'boolean'].includes(typeof value) || value === null).toBe(true);
    }
    persistence.append({ type: 'test.record', n: 4 } as Rec);
    persistence = await context.reopen(persistence);
    expect(recordsOf(await readFromAll(persistence, copied))).toEqual(numbered(1, 4));
    expect(recordsOf(await readFromAll(persistence, await endPosition(persistence)))).toEqual([]);
  });

  it('a position from before a rewrite, queued or written, rejects with RecordsPositionError', async () => {
    let persistence = context.open();
    for (const record of numbered(3)) persistence.append(record);
    await persistence.flush();
    const end = await endPosition(persistence);
    persistence.rewrite(numbered(3, 100)); // as many records: a count alone cannot tell
    const queued = await readFromAll(persistence, end).catch((error: unknown) => error);
    expect(queued).toBeInstanceOf(RecordsPositionError);
    await persistence.flush();
    const written = await readFromAll(persistence, end).catch((error: unknown) => error);
    expect(written).toBeInstanceOf(RecordsPositionError);
    expect((written as Error).message.length).toBeGreaterThan(20); // it says why
    persistence = await context.reopen(persistence);
    await expect(readFromAll(persistence, end)).rejects.toBeInstanceOf(RecordsPositionError);
    expect(recordsOf(await readFromAll(persistence, null))).toEqual(numbered(3, 100));
  });

  it('rejects before yielding anything: the first next() of a stale position', async () => {
    const persistence = context.open();
    for (const record of numbered(2)) persistence.append(record);
    await persistence.flush();
    const end = await endPosition(persistence);
    persistence.rewrite(numbered(5, 10));
    await persistence.flush();
    const batches = persistence.readFrom?.(end) as AsyncIterable<unknown>;
    const iterator = batches[Symbol.asyncIterator]();
    await expect(iterator.next()).rejects.toBeInstanceOf(RecordsPositionError);
  });
}

function registerTitleExamples(context: ExampleContext): void {
  it('setTitle returns at once and keeps the title beside the log, not in it', async () => {
    const reports: RecordsErrorInfo['kind'][] = [];
    const persistence = context.open({ onError: (_error, info) => reports.push(info.kind) });
    persistence.append({ type: 'test.record', n: 1 } as Rec);
    const result = persistence.setTitle?.('Fix the flaky test — 😀') as unknown;
    expect(result).toBeUndefined();
    persistence.append({ type: 'test.record', n: 2 } as Rec);
    await persistence.flush();
    const reopened = await context.reopen(persistence);
    const records: unknown[] = [];
    for await (const record of reopened.read()) records.push(record);
    expect(records).toEqual(numbered(2, 1));
    expect(reports.filter((kind) => kind !== 'warning')).toEqual([]); // no episode, no refusal
  });
}
