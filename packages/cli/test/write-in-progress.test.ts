import { spawnSync } from 'node:child_process';
import { appendFileSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { FileSystemAgentRecordPersistence } from '@agent-records/fs-persistence';
import type { AgentRecordEnvelope } from '@agent-records/types';
import { afterEach, describe, expect, it } from 'vitest';
import { META, PROMPT, runCli, tempDir, writeLog } from './helpers.js';

const dir = tempDir('cli-in-progress-');
// The first part of a big record a live writer is still writing (no newline yet, not JSON yet).
const PARTIAL = '{"type":"big","pad":"zzzzzzzzzzzzzzzzzzzz';
let writers: FileSystemAgentRecordPersistence<AgentRecordEnvelope>[] = [];
afterEach(async () => {
  for (const writer of writers) await writer.close().catch(() => {});
  writers = [];
});

/** A log whose lock a live writer (this process) holds, its last line a write in progress. */
async function liveLogMidWrite(): Promise<string> {
  const file = writeLog(dir.path, 'live.jsonl', '');
  const writer = new FileSystemAgentRecordPersistence<AgentRecordEnvelope>(file);
  writers.push(writer);
  writer.append(JSON.parse(META));
  writer.append(JSON.parse(PROMPT));
  await writer.flush(); // holds the lock from now on
  appendFileSync(file, PARTIAL);
  return file;
}

const offset = META.length + 1 + PROMPT.length + 1;

describe('a live log caught mid-write is healthy, not corrupt', () => {
  it('validate: exit 0, says a write is in progress, never suggests repair', async () => {
    const file = await liveLogMidWrite();
    const result = await runCli(['validate', file]);
    expect(result.code).toBe(0);
    expect(result.stdout).toBe('');
    expect(result.stderr).toContain(`${file}: valid (2 records`);
    expect(result.stderr).toContain(
      `the last ${PARTIAL.length} bytes (offset ${offset}) are a write in progress by process ${process.pid}`,
    );
    expect(result.stderr).not.toMatch(/repair|torn/);
  });

  it('inspect: exit 0, no torn tail, the write in progress shown (and in --json)', async () => {
    const file = await liveLogMidWrite();
    const result = await runCli(['inspect', file]);
    expect(result.code).toBe(0);
    expect(result.stdout).not.toMatch(/repair|torn|problems/);
    expect(result.stdout).toContain(
      `in progress: ${PARTIAL.length} bytes at offset ${offset}, being written by process ${process.pid}`,
    );
    const json = JSON.parse((await runCli(['inspect', '--json', file])).stdout);
    expect(json.tornTail).toBeNull();
    expect(json.problemCount).toBe(0);
    expect(json.writeInProgress).toMatchObject({ offset, bytes: PARTIAL.length, pid: process.pid });
  });

  it('stats and cat: exit 0, the partial line is no problem', async () => {
    const file = await liveLogMidWrite();
    const stats = await runCli(['stats', file]);
    expect(stats.code).toBe(0);
    expect(stats.stdout).not.toContain('not records');
    expect(stats.stdout).toContain(`in progress:  ${PARTIAL.length} bytes at offset ${offset}`);
    const cat = await runCli(['cat', file]);
    expect(cat.code).toBe(0);
    expect(cat.stderr).toBe('');
  });

  it('without a live writer the same line is a torn tail, as before (no lock, or a stale one)', async () => {
    const file = writeLog(dir.path, 'crashed.jsonl', `${META}\n${PROMPT}\n${PARTIAL}`);
    for (const lock of [null, 'stale']) {
      if (lock) {
        const dead = spawnSync(process.execPath, ['-e', '0']).pid as number;
        writeFileSync(
          `${file}.lock`,
          JSON.stringify({ pid: dead, token: 'stale', host: hostname(), acquired_at: 1 }),
        );
      }
      const validate = await runCli(['validate', file]);
      expect(validate.code).toBe(1);
      expect(validate.stdout).toContain('torn last line');
      expect(validate.stderr).toContain('agent-records repair');
      expect((await runCli(['inspect', file])).code).toBe(1);
      expect((await runCli(['stats', file])).code).toBe(1);
    }
  });
});
