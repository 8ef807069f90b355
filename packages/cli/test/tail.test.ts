import { spawnSync } from 'node:child_process';
import { appendFileSync, closeSync, openSync, writeSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { tailLog } from '../src/commands/tail.js';
import {
  bin,
  captureIo,
  MESSAGE,
  META,
  PROMPT,
  runCli,
  tempDir,
  USAGE,
  VALID,
  writeLog,
} from './helpers.js';

const dir = tempDir('cli-tail-');
const reportBytesRead = fileURLToPath(new URL('fixtures/report-bytes-read.mjs', import.meta.url));

describe('agent-records tail', () => {
  it('tail -n 3 reads the end of a 64 MiB log, not the whole file from the start', () => {
    const file = path.join(dir.path, 'big.jsonl');
    const fd = openSync(file, 'w');
    writeSync(fd, `${META}\n`);
    const block =
      `{"type":"context.append_message","message":{"role":"tool","content":"${'x'.repeat(1000)}"}}\n`.repeat(
        1024,
      );
    let written = 0;
    while (written < 64 * 1024 * 1024) written += writeSync(fd, block);
    writeSync(fd, `${PROMPT}\n${MESSAGE}\n${USAGE}\n`);
    closeSync(fd);
    const child = spawnSync(
      process.execPath,
      ['--import', reportBytesRead, bin, 'tail', '-n', '3', '--json', file],
      { encoding: 'utf8' },
    );
    expect(child.status).toBe(0);
    expect(child.stdout).toBe(`${PROMPT}\n${MESSAGE}\n${USAGE}\n`);
    const bytesRead = Number(/bytes-read: (\d+)/.exec(child.stderr)?.[1]);
    // Node itself reads its modules (a few MiB); the log's 64 MiB must not be among them.
    expect(bytesRead).toBeGreaterThan(0);
    expect(bytesRead).toBeLessThan(16 * 1024 * 1024);
  }, 60_000);

  it('prints a last record that lacks its newline (another runtime wrote it)', async () => {
    const file = writeLog(dir.path, 'nonl.jsonl', VALID.trimEnd());
    const result = await runCli(['tail', '-n', '2', '--json', file]);
    expect(result.code).toBe(0);
    expect(result.stdout).toBe(`${MESSAGE}\n${USAGE}\n`);
  });

  it('leaves out a torn last line, and reads lines longer than its read chunk whole', async () => {
    const long = `{"type":"tool.output","data":"${'é'.repeat(100_000)}"}`;
    const file = writeLog(dir.path, 'long.jsonl', `${META}\n${long}\n${PROMPT}\n{"type":"torn","a`);
    const result = await runCli(['tail', '-n', '2', '--json', file]);
    expect(result.stdout).toBe(`${long}\n${PROMPT}\n`);
    expect(result.stderr).toBe('');
    const all = await runCli(['tail', '-n', '10', '--json', file]);
    expect(all.stdout).toBe(`${META}\n${long}\n${PROMPT}\n`);
  });

  it('reads back until it has N records of the asked type', async () => {
    const filler = `${PROMPT}\n`.repeat(5000);
    const file = writeLog(dir.path, 't.jsonl', `${META}\n${USAGE}\n${filler}${MESSAGE}\n`);
    const result = await runCli([
      'tail',
      '-n',
      '2',
      '--json',
      '--type',
      'usage.record',
      '--type',
      'metadata',
      file,
    ]);
    expect(result.stdout).toBe(`${META}\n${USAGE}\n`);
    const none = await runCli(['tail', '-n', '0', file]);
    expect(none.stdout).toBe('');
  });
});

describe('agent-records tail judges lines by the log line rule (classifyLogLine)', () => {
  // The same lines read()/replay() and validate refuse: a line of U+00A0 only, and a line with a
  // byte that is not UTF-8 (it must not be printed with U+FFFD in its place).
  const nbspLine = Buffer.from('\u00a0\n');
  const badUtf8Line = Buffer.concat([
    Buffer.from('{"type":"a","s":"'),
    Buffer.from([0xff, 0xfe]),
    Buffer.from('"}\n'),
  ]);
  const log = () =>
    Buffer.concat([
      Buffer.from(`${META}\n${PROMPT}\n`),
      nbspLine,
      badUtf8Line,
      Buffer.from(`${MESSAGE}\n`),
    ]);

  it('reports both lines as not records, with their byte offsets, and prints the rest', async () => {
    const file = writeLog(dir.path, 'rule.jsonl', log());
    const result = await runCli(['tail', '-n', '10', '--json', file]);
    expect(result.stdout).toBe(`${META}\n${PROMPT}\n${MESSAGE}\n`);
    const nbspAt = META.length + 1 + PROMPT.length + 1;
    const badAt = nbspAt + nbspLine.length;
    expect(result.stderr).toContain(`at byte ${nbspAt} that is not a record`);
    expect(result.stderr).toContain(`at byte ${badAt} that is not a record`);
    expect(result.stderr).toContain('not valid UTF-8');
  });

  it('-f reports them too when they arrive after it started following', async () => {
    const file = writeLog(dir.path, 'rule-follow.jsonl', `${META}\n`);
    const captured = captureIo();
    const { io } = captured;
    const controller = new AbortController();
    const following = tailLog(
      file,
      { lines: 1, follow: true, pollMs: 10, signal: controller.signal, json: true },
      io,
    );
    await waitFor(
      () => captured.stdout === `${META}\n`,
      () => JSON.stringify([captured.stdout, captured.stderr]),
    );
    appendFileSync(file, log().subarray(META.length + 1));
    await waitFor(
      () => captured.stdout.endsWith(`${MESSAGE}\n`),
      () => JSON.stringify([captured.stdout, captured.stderr]),
    );
    controller.abort();
    await following;
    expect(captured.stdout).toBe(`${META}\n${PROMPT}\n${MESSAGE}\n`);
    expect(captured.stderr.match(/that is not a record/g)).toHaveLength(2);
    expect(captured.stderr).toContain('not valid UTF-8');
  });
});

/** Polls until `done()` holds, failing after a deadline (the follower polls every 10 ms). */
async function waitFor(
  done: () => boolean,
  describe: () => string,
  deadlineMs = 10_000,
): Promise<void> {
  const until = Date.now() + deadlineMs;
  while (!done()) {
    if (Date.now() > until) throw new Error(`waited too long: ${describe()}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
