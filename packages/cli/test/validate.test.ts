import { describe, expect, it } from 'vitest';
import { runValidate } from '../src/commands/validate.js';
import { captureIo, META, runCli, tempDir, VALID, writeLog } from './helpers.js';

const dir = tempDir('cli-validate-');

describe('agent-records validate', () => {
  it('validate - reads standard input', async () => {
    const result = await runCli(['validate', '-'], { stdin: VALID });
    expect(result.code).toBe(0);
    expect(result.stderr).toBe('-: valid (4 records)\n');
    const bad = await runCli(['validate', '-'], { stdin: `${VALID}oops\n` });
    expect(bad.code).toBe(1);
    expect(bad.stdout).toMatch(/^-:5:\d+: not valid JSON/);
    expect(bad.stderr).toContain('1 problem.');
  });

  it('says 1 record and 1 problem, not 1 records and 1 problems', async () => {
    const captured = captureIo();
    const file = writeLog(dir.path, 'one.jsonl', `${META}\n`);
    expect(await runValidate({ log: file }, captured.io)).toBe(0);
    expect(captured.stderr).toBe(`${file}: valid (1 record)\n`);
    const bad = await runCli(['validate', writeLog(dir.path, 'bad.jsonl', `${META}\nx\n`)]);
    expect(bad.stderr).toContain(': 1 problem. Run `agent-records repair');
  });
});
