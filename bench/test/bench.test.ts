import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';

// The benchmark runs in CI in quick mode so it cannot rot. No timing is asserted: only that every
// case ran every implementation and produced figures.
it('runs every case in quick mode and writes results.json', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'bench-test-'));
  const out = path.join(dir, 'results.json');
  try {
    const script = fileURLToPath(new URL('../src/run.mjs', import.meta.url));
    const run = await new Promise<{ status: number; stdout: string; stderr: string }>((resolve) => {
      execFile(
        process.execPath,
        [script, '--quick', '--runs', '1', '--out', out],
        (error, stdout, stderr) => resolve({ status: error ? 1 : 0, stdout, stderr }),
      );
    });
    expect(run.stderr).not.toMatch(/failed/);
    expect(run.status).toBe(0);
    expect(run.stdout).toContain('1. batched append');
    expect(run.stdout).toContain('targets');
    const results = JSON.parse(readFileSync(out, 'utf8'));
    expect(results.mode).toBe('quick');
    expect(results.machine.node).toBe(process.version);
    expect(results.machine.disk).not.toBe('unknown');
    expect(Object.keys(results.cases)).toEqual([
      'batched',
      'durable',
      'concurrent',
      'replay',
      'replay-large',
      'rewrite',
      'rewrite-large',
      'blobs',
    ]);
    expect(results.cases.blobs.implementations.blobs.logMB.median).toBeLessThan(
      results.cases.blobs.implementations.inline.logMB.median,
    );
    expect(results.cases.batched.implementations.ours.recordsPerSec.median).toBeGreaterThan(0);
    expect(results.cases.durable.implementations.ours.p50Ms.median).toBeGreaterThan(0);
    expect(results.cases.concurrent.implementations.ours.fsyncsPerRecord.median).toBeGreaterThan(0);
    expect(results.cases.replay.implementations.ours.restored.median).toBe(
      results.cases.replay.records + 1,
    );
    expect(results.targets.length).toBeGreaterThan(5);
    if (process.env.CI === 'true') {
      // CI has the local PostgreSQL: its rows must be in the table.
      expect(results.machine.postgres).toBeTruthy();
      expect(results.cases.batched.implementations.pg.recordsPerSec.median).toBeGreaterThan(0);
      expect(results.cases.replay.implementations.pg.restored.median).toBe(
        results.cases.replay.records + 1,
      );
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}, 180_000);
