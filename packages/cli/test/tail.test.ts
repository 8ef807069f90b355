import { spawnSync } from 'node:child_process';
import { closeSync, openSync, writeSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { bin, MESSAGE, META, PROMPT, runCli, tempDir, USAGE, VALID, writeLog } from './helpers.js';

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
