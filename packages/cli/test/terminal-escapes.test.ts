import { appendFileSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { FileSystemAgentRecordPersistence } from '@agent-records/fs-persistence';
import type { AgentRecordEnvelope } from '@agent-records/types';
import { describe, expect, it } from 'vitest';
import { tailLog } from '../src/commands/tail.js';
import { terminalJson, terminalText } from '../src/terminal-text.js';
import { captureIo, META, runCli, tempDir, writeLog } from './helpers.js';

const dir = tempDir('cli-escapes-');

// ESC ] 0 (window title) ended by BEL, ESC [ 2J (clear screen), ESC ] 52 (clipboard), U+009B
// (CSI on its own), U+202E (right-to-left override), U+007F (DEL) and a C1 NEL; JSON-escaped in
// some lines, raw (valid JSON allows it) in others.
const PROMPT =
  '{"type":"turn.prompt","turn_id":"t","content":"hi \\u001b]0;PWNED\\u0007 \\u001b[2J \u009b31m \u202eexe.pdf","time":3}';
const TOOL =
  '{"type":"context.append_message","message":{"role":"tool","content":"page \\u001b]52;c;ZWNobyBwd25lZA==\\u0007 \\u009b2J"},"time":4}';
const TYPE = '{"type":"x\\u001b[31mRED\u202e\u007f\u0085","time":5}';
const BAD_TIME = '{"type":"bad\\u001b]0;T\\u0007","time":"soon"}';
const NOT_JSON = 'oops \u001b]0;PWN\u0007 \u009b2J';
const GOOD = `${[META, PROMPT, TOOL, TYPE].join('\n')}\n`;

/** Every character a terminal could act on, apart from the newlines that end lines. */
const UNSAFE = /[\p{Cc}\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/u;
function expectSafe(text: string): void {
  const found = text.replace(/\n/g, '').match(UNSAFE);
  expect(found, `unsafe character in ${JSON.stringify(text)}`).toBeNull();
}

describe('log text never drives the terminal', () => {
  it.each([['cat'], ['tail', '-n', '10'], ['inspect'], ['stats'], ['validate']])(
    '%s shows control and bidi characters as U+FFFD, on stdout and stderr',
    async (...args) => {
      const file = writeLog(dir.path, 'evil.jsonl', `${GOOD}${BAD_TIME}\n${NOT_JSON}\n`);
      const result = await runCli([...args, file]);
      expectSafe(result.stdout);
      expectSafe(result.stderr);
      expect(result.stdout + result.stderr).toContain('\ufffd');
    },
  );

  it.each([
    ['cat', '--json'],
    ['tail', '-n', '10', '--json'],
  ])(
    '%s %s prints each record as the same JSON value, with those characters \\u-escaped',
    async (...args) => {
      const file = writeLog(dir.path, 'evil.jsonl', GOOD);
      const result = await runCli([...args, file]);
      expectSafe(result.stdout);
      const lines = result.stdout.trimEnd().split('\n');
      expect(lines.map((line) => JSON.parse(line))).toEqual(
        GOOD.trimEnd()
          .split('\n')
          .map((line) => JSON.parse(line)),
      );
      expect(lines[1]).toContain('\\u009b31m \\u202eexe.pdf');
    },
  );

  it.each([
    ['cat', '--raw'],
    ['tail', '-n', '10', '--raw'],
  ])('%s %s prints the lines byte for byte (for pipes; the help says so)', async (...args) => {
    const file = writeLog(dir.path, 'evil.jsonl', GOOD);
    const result = await runCli([...args, file]);
    expect(result.stdout).toBe(GOOD);
  });

  it.each([['inspect'], ['stats']])(
    '%s --json escapes them too (JSON.stringify leaves DEL, C1 and bidi raw)',
    async (command) => {
      const file = writeLog(dir.path, 'evil.jsonl', GOOD);
      const result = await runCli([command as string, '--json', file]);
      expectSafe(result.stdout);
      const report = JSON.parse(result.stdout);
      expect(Object.keys(report.byType)).toContain('x\u001b[31mRED\u202e\u007f\u0085');
    },
  );

  it('inspect shows a title the host set, and a snapshot-less summary, safely', async () => {
    const file = writeLog(dir.path, 'titled.jsonl', '');
    const writer = new FileSystemAgentRecordPersistence<AgentRecordEnvelope>(file);
    writer.append(JSON.parse(META));
    writer.setTitle('title \u001b]0;PWNED\u0007 \u202eexe.pdf \u009b2J');
    await writer.close();
    const result = await runCli(['inspect', file]);
    expectSafe(result.stdout);
    expect(result.stdout).toContain('title \ufffd]0;PWNED\ufffd \ufffdexe.pdf \ufffd2J');
  });

  it('sessions: the next-page hint quoting an id another tool wrote is safe too', async () => {
    const root = path.join(dir.path, 'store');
    mkdirSync(root);
    for (const id of ['a\u001b]0;X\u0007', 'b\u202ec', 'd'])
      writeFileSync(path.join(root, `${id}.jsonl`), `${META}\n`);
    for (const args of [['--limit', '1'], ['--json']]) {
      const result = await runCli(['sessions', root, ...args]);
      expectSafe(result.stdout);
      expectSafe(result.stderr);
    }
  });

  it('tail -f shows what arrives while following safely', async () => {
    const file = writeLog(dir.path, 'follow.jsonl', `${META}\n`);
    const captured = captureIo();
    const controller = new AbortController();
    const following = tailLog(
      file,
      { lines: 1, follow: true, pollMs: 10, signal: controller.signal },
      captured.io,
    );
    const deadline = Date.now() + 10_000;
    while (!captured.stdout.includes('metadata')) {
      if (Date.now() > deadline) throw new Error(`tail printed ${captured.stdout}`);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    appendFileSync(file, `${PROMPT}\n${TOOL}\n${NOT_JSON}\n`);
    while (!captured.stdout.includes('page')) {
      if (Date.now() > deadline) throw new Error(`tail printed ${captured.stdout}`);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    controller.abort();
    await following;
    expectSafe(captured.stdout);
    expectSafe(captured.stderr);
    expect(captured.stdout).toContain('hi \ufffd]0;PWNED\ufffd \ufffd[2J \ufffd31m \ufffdexe.pdf');
  });
});

describe('the one rule', () => {
  it('terminalText replaces controls and bidi controls, keeps other text (emoji joiners too)', () => {
    expect(terminalText('a\u001b[2Jb\u0007c\u009bd\u202ee\u2066f\u007fg')).toBe(
      'a\ufffd[2Jb\ufffdc\ufffdd\ufffde\ufffdf\ufffdg',
    );
    expect(terminalText('👩‍💻 日本 plain')).toBe('👩‍💻 日本 plain');
  });

  it('terminalJson keeps the JSON value, escaping inside strings and spacing between tokens', () => {
    const line = '{"a":"x\u009b\u202e\\"\u007f",\r\t"b":["\\u001b"]}';
    const safe = terminalJson(line);
    expect(safe).toBe('{"a":"x\\u009b\\u202e\\"\\u007f",  "b":["\\u001b"]}');
    expect(JSON.parse(safe)).toEqual(JSON.parse(line));
    expect(terminalJson('{\n  "a": 1\n}', { keepNewlines: true })).toBe('{\n  "a": 1\n}');
  });
});
