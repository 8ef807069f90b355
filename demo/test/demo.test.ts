import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';

it('runs the demo end to end: crash, replay, inspect, validate, migration, cleanup', () => {
  const dir = path.join(mkdtempSync(path.join(tmpdir(), 'demo-test-')), '.demo');
  try {
    const result = spawnSync(
      process.execPath,
      [fileURLToPath(new URL('../src/demo.mjs', import.meta.url))],
      {
        encoding: 'utf8',
        env: { ...process.env, AGENT_RECORDS_DEMO_DIR: dir },
      },
    );
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    expect(result.stdout).toContain('every record whose flush() had resolved is back');
    expect(result.stdout).toMatch(/agent-records validate .*\(exit 0\)/);
    expect(result.stdout).toContain('"fromVersion":"1.0","migrated":true');
    expect(result.stdout).toContain('"user: Prompts were called text in 1.0"');
    expect(existsSync(dir)).toBe(false);
  } finally {
    rmSync(path.dirname(dir), { recursive: true, force: true });
  }
}, 60_000);
