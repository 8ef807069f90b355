import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { AgentRecords } from '@agent-records/core';
import { FileSystemAgentRecordPersistence } from '@agent-records/fs-persistence';
import { expect, it } from 'vitest';
import { DURABLE_PROBES, FILE_READERS, PG_BULK } from '../src/names.mjs';

// Whether the issue-15 pieces are built: until they are, their cases must say 'skipped'.
const snapshotsBuilt =
  typeof (AgentRecords.prototype as { snapshot?: unknown }).snapshot === 'function' &&
  ['readFrom', 'writeSnapshot', 'readSnapshot'].every(
    (name) =>
      typeof (FileSystemAgentRecordPersistence.prototype as unknown as Record<string, unknown>)[
        name
      ] === 'function',
  );

type Figures = Record<string, { median: number } | string>;
type Case = { records: number; skipped?: string; implementations: Record<string, Figures> };

function median(kase: Case, impl: string, key: string): number {
  const figure = kase.implementations[impl]?.[key];
  return typeof figure === 'object' ? figure.median : Number.NaN;
}

// The benchmark runs in CI in quick mode so it cannot rot. No timing is asserted: only that every
// case ran every implementation and produced figures. SQLite is never installed here: the
// variable that asks for it is cleared (rows appear only if a cache already has it).
it('runs every case in quick mode and writes results.json', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'bench-test-'));
  const out = path.join(dir, 'results.json');
  try {
    const script = fileURLToPath(new URL('../src/run.mjs', import.meta.url));
    const run = await new Promise<{ status: number; stdout: string; stderr: string }>((resolve) => {
      execFile(
        process.execPath,
        [script, '--quick', '--runs', '1', '--out', out],
        {
          env: {
            ...process.env,
            AGENT_RECORDS_BENCH_SQLITE: '',
            AGENT_RECORDS_BENCH_CACHE: path.join(dir, 'cache'),
          },
          maxBuffer: 16 << 20,
        },
        (error, stdout, stderr) => resolve({ status: error ? 1 : 0, stdout, stderr }),
      );
    });
    expect(run.stderr).not.toMatch(/failed/i);
    expect(run.stderr).not.toMatch(/installing better-sqlite3/);
    expect(run.status).toBe(0);
    expect(run.stdout).toContain('1. batched append');
    expect(run.stdout).toContain('findings');
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
      'resume',
      'listing',
      'snapshot-stall',
    ]);
    const { batched, durable, concurrent, replay, blobs, resume, listing } = results.cases;
    expect(median(blobs, 'blobs', 'logMB')).toBeLessThan(median(blobs, 'inline', 'logMB'));
    expect(median(batched, 'ours', 'recordsPerSec')).toBeGreaterThan(0);
    expect(median(concurrent, 'ours', 'fsyncsPerRecord')).toBeGreaterThan(0);
    // Every durable baseline of issue 17, blocking and not, beside ours, p50 and p99.
    for (const impl of [
      'ours',
      'fdatasync-async',
      'odsync-async',
      'naive',
      'open-write-fsync-close',
      ...DURABLE_PROBES,
    ]) {
      expect(median(durable, impl, 'p50Ms')).toBeGreaterThan(0);
      expect(median(durable, impl, 'p99Ms')).toBeGreaterThanOrEqual(median(durable, impl, 'p50Ms'));
      // The cold phase (a fresh process) is measured and reported beside the steady one.
      expect(median(durable, impl, 'coldP99Ms')).toBeGreaterThanOrEqual(
        median(durable, impl, 'coldP50Ms'),
      );
    }
    // Every reader reads every record of the same log.
    for (const impl of ['ours', ...FILE_READERS])
      expect(median(replay, impl, 'restored')).toBe(replay.records + 1);
    expect(results.targets.length).toBeGreaterThan(15);
    expect(Array.isArray(results.findings)).toBe(true);

    if (snapshotsBuilt) {
      // The snapshot resume restores the same state (the worker checks the host's digest).
      expect(median(resume, 'snapshot', 'fromSnapshot')).toBeGreaterThan(0);
      expect(median(resume, 'full', 'fromSnapshot')).toBe(0);
      expect(median(resume, 'snapshot', 'restored')).toBe(median(resume, 'full', 'restored'));
      expect(median(resume, 'snapshot-fast-tail', 'restored')).toBe(
        median(resume, 'full', 'restored'),
      );
      expect(median(results.cases['snapshot-stall'], 'ours', 'logged')).toBeGreaterThan(0);
    } else {
      expect(resume.skipped).toMatch(/not built yet/);
    }
    if (listing.skipped) {
      expect(listing.skipped).toMatch(/not built yet/);
    } else {
      expect(median(listing, 'first-page', 'sessions')).toBe(50);
      expect(median(listing, 'stat-first-page', 'sessions')).toBe(50);
      for (const impl of ['list-all', 'parse-every-file', 'count-lines'])
        expect(median(listing, impl, 'sessions')).toBe(listing.records);
    }

    if (process.env.CI === 'true') {
      // CI has the local PostgreSQL: its rows and baselines must be in the table.
      expect(results.machine.postgres).toBeTruthy();
      expect(median(batched, 'pg', 'recordsPerSec')).toBeGreaterThan(0);
      for (const impl of PG_BULK) expect(median(batched, impl, 'recordsPerSec')).toBeGreaterThan(0);
      expect(median(durable, 'pg-insert-autocommit', 'p50Ms')).toBeGreaterThan(0);
      expect(median(replay, 'pg', 'restored')).toBe(replay.records + 1);
      expect(median(replay, 'pg-select', 'restored')).toBe(replay.records + 1);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}, 180_000);
