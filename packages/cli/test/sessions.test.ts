import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { bin, META, runCli, tempDir, VALID } from './helpers.js';

const dir = tempDir('cli-sessions-');

function run(args: string[]) {
  const result = spawnSync(process.execPath, [bin, ...args], { cwd: dir.path, encoding: 'utf8' });
  return Object.assign(result, { code: result.status });
}

describe('agent-records sessions', () => {
  // Moved from cli.test.ts unchanged in what it asserts.
  it('lists a store', async () => {
    mkdirSync(path.join(dir.path, 'root'));
    writeFileSync(path.join(dir.path, 'root', 'alpha.jsonl'), VALID);
    writeFileSync(path.join(dir.path, 'root', 'beta.jsonl'), `${META}\n`);
    const table = run(['sessions', 'root']);
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(/^alpha\s+4\s/m);
    expect(table.stdout).toMatch(/^beta\s+1\s/m);
    const asJson = JSON.parse(run(['sessions', '--json', 'root']).stdout);
    expect(asJson.map((s: { id: string }) => s.id)).toEqual(['alpha', 'beta']);
    expect(run(['sessions', 'nowhere']).stdout).toContain('no sessions');
  });

  it('labels sizes in binary units (KiB), not KB', async () => {
    const root = path.join(dir.path, 'root');
    mkdirSync(root);
    writeFileSync(path.join(root, 'alpha.jsonl'), `${META}\n${'{"type":"x"}\n'.repeat(200)}`);
    const result = await runCli(['sessions', root]);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^alpha\s+201\s+2\.6 KiB\s/m);
  });
});
