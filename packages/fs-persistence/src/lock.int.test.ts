import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  type AgentRecordEnvelope,
  type RecordsErrorInfo,
  RecordsLockedError,
} from '@agent-records/types';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startChild } from '../test/child.js';
import { FileSystemAgentRecordPersistence } from './fs-persistence.js';
import { readLockHolder } from './lock.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'lock-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('two writers in two processes', () => {
  it('refuses the second writer while the first lives, and takes over after it is killed', async () => {
    const file = path.join(dir, 'shared.jsonl');
    const holder = startChild('lock-holder.mjs', [file]);
    await holder.waitForLines(1);
    expect((await readLockHolder(`${file}.lock`))?.pid).toBe(holder.child.pid);

    const reports: Array<[string, Error]> = [];
    const second = new FileSystemAgentRecordPersistence<AgentRecordEnvelope>(file, {
      onError: (error: Error, info: RecordsErrorInfo) => reports.push([info.kind, error]),
    });
    for (let i = 0; i < 100; i++) second.append({ type: 'intruder', i } as AgentRecordEnvelope);
    const failure = await second.flush().catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(RecordsLockedError);
    expect((failure as Error).message).toContain(`process ${holder.child.pid}`);
    expect(reports).toEqual([['write-failed', failure]]);
    await expect(second.close()).rejects.toBeInstanceOf(RecordsLockedError);
    // Nothing of the refused writer reached the file.
    expect(readFileSync(file, 'utf8')).toBe(`{"type":"holder","pid":${holder.child.pid}}\n`);

    await holder.kill();
    const third = new FileSystemAgentRecordPersistence<AgentRecordEnvelope>(file, {
      onError: (error, info) => reports.push([info.kind, error]),
    });
    third.append({ type: 'successor' });
    await third.close();
    expect(reports.at(-1)?.[0]).toBe('warning');
    expect(reports.at(-1)?.[1].message).toMatch(/stale lock/);
    expect(
      readFileSync(file, 'utf8')
        .trimEnd()
        .split('\n')
        .map((l) => JSON.parse(l).type),
    ).toEqual(['holder', 'successor']);
  }, 60_000);
});
