import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli, tempDir, VALID } from './helpers.js';

const dir = tempDir('cli-log-file-');

/** Every command that takes a log, with what else it needs to get as far as reading it. */
function commands(log: string, migrations: string): string[][] {
  return [
    ['inspect', log],
    ['stats', log],
    ['cat', log],
    ['tail', log],
    ['validate', log],
    ['repair', log],
    ['migrate', log, '--migrations', migrations],
    ['unlock', log],
  ];
}

describe('a log that is not a regular file', () => {
  it('every command refuses /dev/zero (which never ends) with exit 3 instead of reading it', async () => {
    const migrations = path.join(dir.path, 'm.mjs');
    writeFileSync(
      migrations,
      "export const migrations = [{ sourceVersion: '1.0', targetVersion: '1.1', migrateRecord: (r) => r }];",
    );
    for (const argv of commands('/dev/zero', migrations)) {
      const result = await runCli(argv);
      expect({ argv, code: result.code }).toEqual({ argv, code: 3 });
      expect(result.stderr).toContain('/dev/zero: is a character device, not a log file');
    }
  });

  it('every command refuses a fifo with exit 3 instead of blocking on it', async () => {
    const fifo = path.join(dir.path, 'pipe.jsonl');
    expect(spawnSync('mkfifo', [fifo]).status).toBe(0);
    const migrations = path.join(dir.path, 'm.mjs');
    writeFileSync(
      migrations,
      "export const migrations = [{ sourceVersion: '1.0', targetVersion: '1.1', migrateRecord: (r) => r }];",
    );
    for (const argv of commands(fifo, migrations)) {
      const result = await runCli(argv);
      expect({ argv, code: result.code }).toEqual({ argv, code: 3 });
      expect(result.stderr).toContain('is a named pipe (fifo), not a log file');
    }
  });

  it('- (standard input) is refused where the log must be a file: tail, repair', async () => {
    for (const argv of [
      ['tail', '-'],
      ['repair', '-'],
    ]) {
      const result = await runCli(argv, { stdin: VALID });
      expect(result.code).toBe(2);
      expect(result.stderr).toContain('- (standard input) is not accepted here');
    }
  });

  it('blobs gc refuses a target that is neither a log file nor a store folder', async () => {
    const result = await runCli(['blobs', 'gc', '/dev/zero']);
    expect(result.code).toBe(3);
    expect(result.stderr).toContain('/dev/zero: is neither a log file nor a store folder');
  });
});
