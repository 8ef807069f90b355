import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { bin, META, tempDir } from './helpers.js';

// Moved from cli.test.ts unchanged in what it asserts (that file stays under 400 lines).
const dir = tempDir('cli-progress-');

function run(args: string[]) {
  const result = spawnSync(process.execPath, [bin, ...args], { cwd: dir.path, encoding: 'utf8' });
  return Object.assign(result, { code: result.status });
}

describe('progress', () => {
  const hasScript = spawnSync('script', ['--version'], { encoding: 'utf8' }).status === 0;
  if (!hasScript)
    console.log(
      'skipping the progress-bar test: util-linux `script` (a pseudo-terminal) is not installed',
    );

  it.skipIf(!hasScript)(
    'draws a progress bar on a terminal for a big log, and nothing when piped',
    () => {
      const file = path.join(dir.path, 'big.jsonl');
      const line = `{"type":"context.append_message","message":{"role":"tool","content":"${'y'.repeat(2000)}"}}\n`;
      writeFileSync(file, `${META}\n${line.repeat(6000)}`);
      const onTerminal = spawnSync(
        'script',
        ['-qec', `"${process.execPath}" "${bin}" validate big.jsonl`, '/dev/null'],
        {
          cwd: dir.path,
          encoding: 'utf8',
        },
      );
      expect(onTerminal.stdout).toMatch(/validate \[[#.]{30}\] \d+% [\d.]+\/[\d.]+ MiB/);
      const piped = run(['validate', 'big.jsonl']);
      expect(piped.stderr).not.toContain('[#');
      expect(piped.stderr).toContain('valid (6001 records)');
    },
  );
});
