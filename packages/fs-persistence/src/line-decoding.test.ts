import { writeFileSync } from 'node:fs';
import path from 'node:path';
import type { AgentRecordEnvelope } from '@agent-records/types';
import { RecordsCorruptError } from '@agent-records/types';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { readAll } from '../test/read-all.js';
import { useTempDir } from '../test/temp-dir.js';
import { FileSystemAgentRecordPersistence } from './fs-persistence.js';

const temp = useTempDir('fs-line-decoding-');
afterEach(() => {
  vi.restoreAllMocks();
});

/** ~300-byte records, as agent logs mostly are; `text` is put in each. */
function line(i: number, text = 'the agent reads the file then edits it'): string {
  return JSON.stringify({ type: 'turn.prompt', time: i, n: i, content: `${text} `.repeat(6) });
}

/** Writes `lines` (each ended by a newline unless `unterminated`) and returns the file. */
function logOf(lines: string[], name = 'log.jsonl', unterminated = false): string {
  const file = path.join(temp.dir, name);
  writeFileSync(file, lines.join('\n') + (unterminated ? '' : '\n'));
  return file;
}

/** The byte offset and 1-based number of line `index` of `lines`. */
function placeOf(lines: string[], index: number): { line: number; offset: number } {
  let offset = 0;
  for (let i = 0; i < index; i++) offset += Buffer.byteLength(lines[i] as string) + 1;
  return { line: index + 1, offset };
}

async function failureOf(file: string): Promise<unknown> {
  return readAll(new FileSystemAgentRecordPersistence(file, { lock: false })).then(
    () => null,
    (error: unknown) => error,
  );
}

describe('a bad line is RecordsCorruptError with its exact line and byte offset', () => {
  // 4000 lines of ~300 bytes: several 256 KiB chunks, each decoded in several pieces.
  const count = 4000;
  const where: Array<[string, number]> = [
    ['early in the first chunk', 3],
    ['deep inside a chunk', 1234],
    ['right after a piece of 64 KiB', 230],
    ['in the last chunk', count - 2],
    ['as the last line', count - 1],
  ];

  it.each(where)('in ASCII text, %s', async (_what, bad) => {
    const lines = Array.from({ length: count }, (_, i) => line(i));
    lines[bad] = '{"type":"x",';
    const failure = await failureOf(logOf(lines));
    expect(failure).toBeInstanceOf(RecordsCorruptError);
    expect(failure).toMatchObject(placeOf(lines, bad));
  });

  it.each(where)('after multi-byte characters (emoji, CJK), %s', async (_what, bad) => {
    const lines = Array.from({ length: count }, (_, i) => line(i, i % 3 ? '編集 🙂 é' : 'ascii'));
    lines[bad] = '{"type":"x","t":"編集 🙂",';
    const failure = await failureOf(logOf(lines));
    expect(failure).toBeInstanceOf(RecordsCorruptError);
    expect(failure).toMatchObject(placeOf(lines, bad));
  });

  it('that is valid JSON but not a record, in a non-ASCII chunk', async () => {
    const lines = Array.from({ length: count }, (_, i) => line(i, '日本語のテキスト'));
    lines[2500] = '{"type":"ok","time":"yesterday"}';
    const failure = await failureOf(logOf(lines));
    expect(failure).toMatchObject({ ...placeOf(lines, 2500), name: 'RecordsCorruptError' });
  });

  it('after a line longer than a chunk (300 KiB)', async () => {
    const lines = Array.from({ length: 50 }, (_, i) => line(i, 'ü'));
    lines[10] = JSON.stringify({ type: 'tool.result', output: 'é'.repeat(150 * 1024) });
    lines[11] = '{"type":"a"} trailing';
    const failure = await failureOf(logOf(lines));
    expect(failure).toMatchObject(placeOf(lines, 11));
  });

  // replay() counts lines as it splits pieces, not in the line reader: every kind of block (a line
  // joined across chunks, blank lines, chunks of many pieces) must move the count on exactly.
  it('chunks after a line spanning three chunks and blank lines, deep in the log', async () => {
    const lines = Array.from({ length: 3000 }, (_, i) => line(i, i % 7 ? 'ascii' : 'ü 編集'));
    lines[10] = JSON.stringify({ type: 'tool.result', output: 'x'.repeat(600 * 1024) });
    for (const blank of [11, 12, 500, 1700]) lines[blank] = blank % 2 ? ' \t\r' : '';
    lines[2800] = '{"type":"x",';
    const failure = await failureOf(logOf(lines));
    expect(failure).toMatchObject({ ...placeOf(lines, 2800), name: 'RecordsCorruptError' });
  });

  it('that is itself longer than a chunk', async () => {
    const lines = Array.from({ length: 50 }, (_, i) => line(i));
    lines[20] = `{"type":"big","output":"${'x'.repeat(300 * 1024)}"`;
    const failure = await failureOf(logOf(lines));
    expect(failure).toMatchObject(placeOf(lines, 20));
  });

  it('of CRLF lines as before: a lone "\\r" line is blank, "\\r" after a record is whitespace', async () => {
    const file = path.join(temp.dir, 'crlf.jsonl');
    writeFileSync(file, '{"type":"a"}\r\n\r\n{"type":"b"}\r\n{"type":"c"\r\n');
    const failure = await failureOf(file);
    expect(failure).toMatchObject({ line: 4, offset: 30 });
  });
});

describe('records read back exactly', () => {
  it('non-ASCII text (emoji, CJK, U+2028 raw and escaped, a BOM) across chunks and pieces', async () => {
    const texts = ['🙂👩‍💻', '編集する', 'a\u2028b\u2029c', 'é'.repeat(70_000), 'x'.repeat(65_530)];
    const records: Array<AgentRecordEnvelope & Record<string, unknown>> = [
      { type: 'metadata', note: 'ü' },
    ];
    for (let i = 0; i < 1000; i++) {
      records.push({ type: 'turn.prompt', n: i, text: texts[i % texts.length] });
    }
    // Raw U+2028 in a line (another writer); ours writes it escaped.
    const lines = records.map((r) => JSON.stringify(r));
    lines[7] = lines[7]?.replace('\\u2028', '\u2028') as string;
    const file = path.join(temp.dir, 'unicode.jsonl');
    writeFileSync(file, `\ufeff${lines.join('\n')}\n`);
    expect(await readAll(new FileSystemAgentRecordPersistence(file, { lock: false }))).toEqual(
      records,
    );
  }, 30_000);

  it('CRLF lines and blank lines as before', async () => {
    const file = path.join(temp.dir, 'crlf-ok.jsonl');
    writeFileSync(file, '{"type":"a"}\r\n\r\n \t\n{"type":"b","t":"é"}\r\n{"type":"c"}');
    const records = await readAll(new FileSystemAgentRecordPersistence(file, { lock: false }));
    expect(records).toEqual([{ type: 'a' }, { type: 'b', t: 'é' }, { type: 'c' }]);
  });

  it('a torn last line after many chunks is skipped, the lines before it kept', async () => {
    const lines = Array.from({ length: 3000 }, (_, i) => line(i, 'ö'));
    lines.push('{"type":"torn","te');
    const records = await readAll(
      new FileSystemAgentRecordPersistence(logOf(lines, 'torn.jsonl', true), { lock: false }),
    );
    expect(records).toHaveLength(3000);
    expect(records[2999]).toEqual(JSON.parse(lines[2999] as string));
  });
});

describe('decoding', () => {
  it('decodes a log of short lines in pieces of at most 64 KiB (a longer string costs an mmap)', async () => {
    const lines = Array.from({ length: 4000 }, (_, i) => line(i));
    const file = logOf(lines, 'pieces.jsonl');
    let longest = 0;
    const decode = Buffer.prototype.toString;
    vi.spyOn(Buffer.prototype, 'toString').mockImplementation(function (
      this: Buffer,
      ...args: unknown[]
    ) {
      const text = (decode as (...a: unknown[]) => string).apply(this, args);
      longest = Math.max(longest, text.length);
      return text;
    });
    const records = await readAll(new FileSystemAgentRecordPersistence(file, { lock: false }));
    vi.restoreAllMocks();
    expect(records).toHaveLength(4000);
    expect(longest).toBeGreaterThan(0);
    expect(longest).toBeLessThanOrEqual(64 * 1024);
  });

  it('yields a log of short lines in batches of one 64 KiB piece, each parsed when it is asked for', async () => {
    const lines = Array.from({ length: 4000 }, (_, i) => line(i));
    const perPiece = Math.ceil((64 * 1024) / (Buffer.byteLength(lines[0] as string) + 1));
    const persistence = new FileSystemAgentRecordPersistence(logOf(lines, 'batches.jsonl'), {
      lock: false,
    });
    const sizes: number[] = [];
    for await (const batch of persistence.readBatches()) sizes.push(batch.length);
    expect(sizes.reduce((a, b) => a + b, 0)).toBe(4000);
    // A batch of a whole 256 KiB chunk kept ~900 parsed records alive through every scavenge.
    expect(Math.max(...sizes)).toBeLessThanOrEqual(perPiece);
  });
});
