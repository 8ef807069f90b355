import { describe, expect, it } from 'vitest';
import { META, runCli, tempDir, writeLog } from './helpers.js';

const dir = tempDir('cli-odd-times-');

// A log may hold any finite `time` (the core and the file backend accept it), including one
// beyond what a JavaScript Date can show (±8.64e15 ms). Every command must still read the log.
describe('a record whose time a Date cannot show', () => {
  const content = `${META}\n{"type":"odd","time":1e20}\n{"type":"normal","time":1764000001000}\n`;

  it.each([['inspect'], ['stats'], ['cat'], ['tail', '-n', '2']])(
    '%s reads the log, shows the raw time and exits 0',
    async (...command) => {
      const file = writeLog(dir.path, 'odd.jsonl', content);
      const result = await runCli([...command, file]);
      expect(result.stderr).not.toMatch(/Invalid time value|RangeError/);
      expect(result.code).toBe(0);
      expect(result.stdout).toContain('100000000000000000000');
    },
  );
});
