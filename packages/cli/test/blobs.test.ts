import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { FileSystemAgentRecordPersistence } from '@agent-records/fs-persistence';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseDuration } from '../src/commands/blobs.js';

const bin = fileURLToPath(new URL('../dist/bin.js', import.meta.url));
let dir: string;
let root: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'cli-blobs-'));
  root = path.join(dir, 'store');
  mkdirSync(path.join(root, 'blobs'), { recursive: true });
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function run(args: string[]) {
  const result = spawnSync(process.execPath, [bin, ...args], { cwd: dir, encoding: 'utf8' });
  return Object.assign(result, { code: result.status });
}

/** An unreferenced blob whose last change was `ageSeconds` ago. */
function orphanBlob(ageSeconds: number, seed = 1): string {
  const bytes = Buffer.from(`orphan ${seed}`.repeat(100));
  const file = path.join(root, 'blobs', createHash('sha256').update(bytes).digest('hex'));
  writeFileSync(file, bytes);
  const time = (Date.now() - ageSeconds * 1000) / 1000;
  utimesSync(file, time, time);
  return file;
}

describe('agent-records blobs gc --min-age', () => {
  it('reads a bare --min-age number as seconds, not milliseconds', () => {
    const blob = orphanBlob(60); // a minute old: inside an hour, far outside 3.6 seconds
    const result = run(['blobs', 'gc', '--min-age', '3600', 'store']);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/removed 0 .*1 unreferenced but younger than 3600/);
    expect(existsSync(blob)).toBe(true);
  });

  it('accepts 30s, 10m and 1h30m', () => {
    const blob = orphanBlob(45 * 60); // 45 minutes old
    expect(run(['blobs', 'gc', '--min-age', '1h30m', 'store']).code).toBe(0);
    expect(existsSync(blob)).toBe(true);
    expect(run(['blobs', 'gc', '--min-age', '10m', '--dry-run', 'store']).stdout).toMatch(
      /^would remove [0-9a-f]{64}/m,
    );
    expect(run(['blobs', 'gc', '--min-age', '30s', 'store']).code).toBe(0);
    expect(existsSync(blob)).toBe(false);
  });

  it('refuses a --min-age that is not a duration, naming the forms it takes', () => {
    for (const bad of ['soon', '-5s', '1h 30m']) {
      const result = run(['blobs', 'gc', '--min-age', bad, 'store']);
      expect(result.code, bad).toBe(2);
      expect(result.stderr).toMatch(/not a duration: use seconds \(3600\) or units such as 30s/);
    }
  });

  it('parses durations to milliseconds with one parser', () => {
    expect(parseDuration('3600')).toBe(3_600_000);
    expect(parseDuration('1.5')).toBe(1500);
    expect(parseDuration('0')).toBe(0);
    expect(parseDuration('30s')).toBe(30_000);
    expect(parseDuration('10m')).toBe(600_000);
    expect(parseDuration('1h30m')).toBe(5_400_000);
    expect(parseDuration('2d')).toBe(172_800_000);
    expect(parseDuration('1m30s250ms')).toBe(90_250);
    for (const bad of ['1hour', '', '1x', '5 s', 'h', '1h-30m', '.5s']) {
      expect(() => parseDuration(bad), bad).toThrow(/not a duration/);
    }
  });
});

describe('agent-records blobs gc: which logs hold references', () => {
  it('keeps the blob of a log whose name starts with a dot', async () => {
    const image = `data:image/png;base64,${Buffer.alloc(6000, 7).toString('base64')}`;
    const writer = new FileSystemAgentRecordPersistence(path.join(root, '.hidden.jsonl'), {
      blobs: { dir: path.join(root, 'blobs') },
    });
    writer.append({ type: 'context.append_message', image } as never);
    await writer.close();
    const result = run(['blobs', 'gc', '--min-age', '0s', 'store']);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/1 blob referenced by 1 log; removed 0/);
  });
});
