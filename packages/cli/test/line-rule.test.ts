import { readFileSync } from 'node:fs';
import { FileSystemAgentRecordPersistence } from '@agent-records/fs-persistence';
import { describe, expect, it } from 'vitest';
import { scanLines } from '../src/scan.js';
import { META, runCli, tempDir, writeLog } from './helpers.js';

const dir = tempDir('cli-line-rule-');
/** Byte offset of line 2 when line 1 is META. */
const LINE_2 = Buffer.byteLength(META) + 1;
const RECORD = '{"type":"a"}';

/** What `read()` (and so `replay()`) makes of the log: its record count or the corrupt line. */
async function readOutcome(file: string): Promise<string> {
  let n = 0;
  try {
    for await (const _ of new FileSystemAgentRecordPersistence(file, { lock: false }).read()) n++;
    return `ok ${n}`;
  } catch (error) {
    const e = error as { code?: string; line?: number; offset?: number };
    return `${e.code} ${e.line}:${e.offset}`;
  }
}

/** Validate, repair and read() on one log: they must agree on every line. */
async function checkAgreement(file: string, original: Buffer, badLine: Buffer, problem: RegExp) {
  expect(await readOutcome(file)).toBe(`RECORDS_CORRUPT 2:${LINE_2}`);
  const validated = await runCli(['validate', file]);
  expect(validated.code).toBe(1);
  expect(validated.stdout.startsWith(`${file}:2:${LINE_2}: `)).toBe(true);
  expect(validated.stdout).toMatch(problem);
  expect(validated.stderr).toContain('1 problem.');

  const repaired = await runCli(['repair', file]);
  expect(repaired.code).toBe(0);
  expect(repaired.stdout).toContain(`moved ${file}:2:${LINE_2} (`);
  expect(repaired.stdout).toContain('kept 2 lines');
  const quarantine = /moved lines are in (.+)$/m.exec(repaired.stdout)?.[1] as string;
  const backup = /original kept as (.+)$/m.exec(repaired.stdout)?.[1] as string;
  // Nothing lost: the line's exact bytes are in the quarantine, the original in the backup.
  expect(readFileSync(quarantine)).toEqual(Buffer.concat([badLine, Buffer.from('\n')]));
  expect(readFileSync(backup)).toEqual(original);
  expect(await readOutcome(file)).toBe('ok 2');
  expect((await runCli(['validate', file])).stderr).toBe(`${file}: valid (2 records)\n`);
}

describe('validate, repair and read() judge every line by one rule', () => {
  it.each([
    ['U+00A0 (no-break space)', '\u00a0'],
    ['U+FEFF (a byte order mark past the first line)', '\ufeff'],
    ['U+2028 (line separator)', '\u2028'],
    ['U+3000 (ideographic space)', '\u3000'],
    ['form feed', '\f'],
    ['vertical tab', '\v'],
  ])('a line of only %s is reported by validate and moved aside by repair', async (_what, text) => {
    const badLine = Buffer.from(text);
    const original = Buffer.from(`${META}\n${text}\n${RECORD}\n`);
    const file = writeLog(dir.path, 'odd.jsonl', original);
    await checkAgreement(file, original, badLine, /: not valid JSON/);
  });

  it('a line with bytes that are not UTF-8 is reported by validate and moved aside by repair', async () => {
    const badLine = Buffer.concat([
      Buffer.from('{"type":"a","s":"'),
      Buffer.from([0xff, 0xfe]),
      Buffer.from('"}'),
    ]);
    const original = Buffer.concat([
      Buffer.from(`${META}\n`),
      badLine,
      Buffer.from(`\n${RECORD}\n`),
    ]);
    const file = writeLog(dir.path, 'bad-utf8.jsonl', original);
    await checkAgreement(file, original, badLine, /: not valid UTF-8\n/);
  });

  it.each([
    ['alone', '\ufeff\n'],
    ['with CR (a CRLF file)', '\ufeff\r\n'],
    ['with spaces', '\ufeff  \n'],
  ])('a first line of a byte order mark %s is blank for all three', async (_what, first) => {
    const file = writeLog(dir.path, 'bom.jsonl', `${first}${META}\n${RECORD}\n`);
    expect(await readOutcome(file)).toBe('ok 2');
    expect(await runCli(['validate', file])).toMatchObject({
      code: 0,
      stderr: `${file}: valid (2 records)\n`,
    });
    expect((await runCli(['repair', file])).stdout).toMatch(/nothing to repair/);
  });

  it('lines of space, tab and CR stay blank for all three', async () => {
    const file = writeLog(dir.path, 'blank.jsonl', `${META}\r\n\r\n \t\n\n${RECORD}\r\n`);
    expect(await readOutcome(file)).toBe('ok 2');
    expect((await runCli(['validate', file])).code).toBe(0);
    expect((await runCli(['repair', file])).stdout).toMatch(/nothing to repair/);
  });

  it('scanLines gives a torn last line cut inside a character as torn, not as not UTF-8', async () => {
    const cut = Buffer.from(`{"type":"a","s":"編`).subarray(0, -1);
    const file = writeLog(dir.path, 'torn.jsonl', Buffer.concat([Buffer.from(`${META}\n`), cut]));
    expect(await readOutcome(file)).toBe('ok 1');
    const problems: string[] = [];
    for await (const line of scanLines(file)) if (line.problem) problems.push(line.problem);
    expect(problems).toEqual([
      `torn last line: ${cut.length} bytes without a newline that are not valid JSON (an interrupted write)`,
    ]);
  });
});
