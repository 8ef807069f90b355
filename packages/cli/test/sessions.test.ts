import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { META, runCli, tempDir } from './helpers.js';

const dir = tempDir('cli-sessions-');

describe('agent-records sessions', () => {
  it('labels sizes in binary units (KiB), not KB', async () => {
    const root = path.join(dir.path, 'root');
    mkdirSync(root);
    writeFileSync(path.join(root, 'alpha.jsonl'), `${META}\n${'{"type":"x"}\n'.repeat(200)}`);
    const result = await runCli(['sessions', root]);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^alpha\s+201\s+2\.6 KiB\s/m);
  });
});
