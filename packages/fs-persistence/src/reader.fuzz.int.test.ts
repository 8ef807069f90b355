import { closeSync, mkdtempSync, openSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { serializeRecord } from '@agent-records/backend-kit';
import { type AgentRecordEnvelope, RecordsCorruptError } from '@agent-records/types';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { FULL } from '../test/child.js';
import { nodeFileOperations } from './file-operations.js';
import { FileSystemAgentRecordPersistence } from './fs-persistence.js';
import { readLineBlocks } from './line-reader.js';

const RUNS = Number(process.env.AGENT_RECORDS_FUZZ_RUNS ?? (FULL ? 5000 : 300));
const dir = mkdtempSync(path.join(tmpdir(), 'fuzz-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let counter = 0;

/** Reads a file; returns the records, or the RecordsCorruptError. Anything else fails the test. */
async function readFile(bytes: Uint8Array): Promise<AgentRecordEnvelope[] | RecordsCorruptError> {
  const file = path.join(dir, `f${counter++}.jsonl`);
  writeFileSync(file, bytes);
  const records: AgentRecordEnvelope[] = [];
  try {
    for await (const record of new FileSystemAgentRecordPersistence(file).read()) {
      if (typeof record !== 'object' || record === null || typeof record.type !== 'string') {
        throw new Error(`reader yielded a non-record: ${JSON.stringify(record)}`);
      }
      records.push(record);
    }
    return records;
  } catch (error) {
    if (error instanceof RecordsCorruptError) {
      expect(error.line).toBeGreaterThanOrEqual(1);
      expect(error.offset).toBeGreaterThanOrEqual(0);
      expect(error.offset).toBeLessThanOrEqual(bytes.length);
      return error;
    }
    throw error;
  } finally {
    rmSync(file, { force: true });
  }
}

const recordArb = fc.record({
  type: fc.string({ minLength: 1, maxLength: 12 }),
  text: fc.string({ unit: 'binary', maxLength: 80 }),
  n: fc.oneof(fc.integer(), fc.double({ noNaN: true, noDefaultInfinity: true })),
  nested: fc.jsonValue({ maxDepth: 2 }),
});
const logArb = fc.array(recordArb, { maxLength: 30 }).map((records) => ({
  records,
  bytes: Buffer.from(records.map((r) => `${serializeRecord(r)}\n`).join(''), 'utf8'),
}));

describe(`reader fuzz (${RUNS} runs per property)`, () => {
  it('reads a valid log back exactly', async () => {
    await fc.assert(
      fc.asyncProperty(logArb, async ({ records, bytes }) => {
        expect(await readFile(bytes)).toEqual(JSON.parse(JSON.stringify(records)));
      }),
      { numRuns: RUNS },
    );
  }, 300_000);

  it('random bytes: records or RecordsCorruptError, nothing else', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 2000 }), async (bytes) => {
        await readFile(bytes);
      }),
      { numRuns: RUNS },
    );
  }, 300_000);

  it('a truncated valid log loses at most its torn last record', async () => {
    await fc.assert(
      fc.asyncProperty(logArb, fc.nat(), async ({ records, bytes }, cut) => {
        const at = bytes.length === 0 ? 0 : cut % (bytes.length + 1);
        const result = await readFile(bytes.subarray(0, at));
        // A cut inside a multi-byte character can only tear the last line, never corrupt earlier ones.
        expect(result).not.toBeInstanceOf(RecordsCorruptError);
        const read = result as AgentRecordEnvelope[];
        const complete = bytes.subarray(0, at).toString('utf8').split('\n').length - 1;
        expect(read.length).toBeGreaterThanOrEqual(complete);
        expect(read.length).toBeLessThanOrEqual(Math.min(records.length, complete + 1));
        expect(read.slice(0, complete)).toEqual(
          JSON.parse(JSON.stringify(records.slice(0, complete))),
        );
      }),
      { numRuns: RUNS },
    );
  }, 300_000);

  it('corrupted bytes in a valid log: records or RecordsCorruptError, nothing else', async () => {
    await fc.assert(
      fc.asyncProperty(
        logArb,
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), {
          minLength: 1,
          maxLength: 8,
        }),
        async ({ bytes }, edits) => {
          const copy = Buffer.from(bytes);
          for (const [at, value] of edits) if (copy.length > 0) copy[at % copy.length] = value;
          await readFile(copy);
        },
      ),
      { numRuns: RUNS },
    );
  }, 300_000);

  it('line blocks give every line with its number and byte offset, whatever the chunk size', async () => {
    const bytesArb = fc
      .array(fc.oneof(fc.constant(0x0a), fc.integer({ min: 0, max: 255 })), { maxLength: 400 })
      .map((values) => Buffer.from(values));
    await fc.assert(
      fc.asyncProperty(
        bytesArb,
        fc.integer({ min: 1, max: 64 }),
        fc.integer({ min: 1, max: 100 }),
        async (bytes, chunkSize, maxLineBytes) => {
          const file = path.join(dir, `b${counter++}.jsonl`);
          writeFileSync(file, bytes);
          const fd = openSync(file, 'r');
          const seen: Array<[number, number, string, boolean]> = [];
          try {
            for await (const block of readLineBlocks(nodeFileOperations, fd, {
              chunkSize,
              maxLineBytes,
            })) {
              if (block.oversized !== undefined) {
                seen.push([
                  block.firstLine,
                  block.offset,
                  `oversized ${block.oversized}`,
                  block.complete,
                ]);
                continue;
              }
              let offset = block.offset;
              block.bytes
                .toString('latin1')
                .split('\n')
                .forEach((text, i) => {
                  seen.push([block.firstLine + i, offset, text, block.complete]);
                  offset += text.length + 1;
                });
            }
          } finally {
            closeSync(fd);
            rmSync(file, { force: true });
          }
          // The same lines, split the obvious way.
          const expected: Array<[number, number, string, boolean]> = [];
          const lines = bytes.toString('latin1').split('\n');
          let offset = 0;
          lines.forEach((text, i) => {
            const last = i === lines.length - 1;
            if (!(last && text.length === 0)) {
              const shown = text.length > maxLineBytes ? `oversized ${text.length}` : text;
              expected.push([i + 1, offset, shown, !last]);
            }
            offset += text.length + 1;
          });
          expect(seen).toEqual(expected);
        },
      ),
      { numRuns: RUNS },
    );
  }, 300_000);
});
