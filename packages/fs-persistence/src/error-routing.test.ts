// One error handler (DESIGN "The core"): every report of this backend (write failures, a torn
// tail cut, a missing blob, a stale lock taken over) reaches the core's `onError` through
// `setErrorHandler`, and a host's own fs `onError` keeps hearing it alongside, first.
import { randomUUID } from 'node:crypto';
import { readdirSync, unlinkSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import path from 'node:path';
import { AgentRecords } from '@agent-records/core';
import type { AgentRecord, RecordsErrorHandler } from '@agent-records/types';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { FaultyFileSystem, ioError } from '../test/faulty-fs.js';
import { useTempDir } from '../test/temp-dir.js';
import {
  FileSystemAgentRecordPersistence,
  type FileSystemAgentRecordPersistenceOptions,
} from './fs-persistence.js';

interface Heard {
  who: 'fs' | 'core';
  kind: string;
  message: string;
}

const temp = useTempDir('error-routing-');
let heard: Heard[];
let printed: ReturnType<typeof vi.spyOn>;
beforeEach(() => {
  heard = [];
  printed = vi.spyOn(console, 'error').mockImplementation(() => {});
});
afterEach(() => {
  printed.mockRestore();
});

const listen =
  (who: Heard['who']): RecordsErrorHandler =>
  (error, info) =>
    heard.push({ who, kind: info.kind, message: error.message });

/** A session through the core; `withFsOnError` also gives the backend its own `onError`. */
function session(
  file: string,
  withFsOnError: boolean,
  options: FileSystemAgentRecordPersistenceOptions = {},
): AgentRecords<AgentRecord> {
  const persistence = new FileSystemAgentRecordPersistence(file, {
    ...options,
    ...(withFsOnError ? { onError: listen('fs') } : {}),
  });
  return new AgentRecords<AgentRecord>({
    persistence,
    protocolVersion: '1.0',
    restore: () => {},
    onError: listen('core'),
  });
}

const prompt: AgentRecord = { type: 'turn.prompt', turn_id: 't1', content: 'Hello' };
const image = `data:image/png;base64,${Buffer.alloc(6000, 7).toString('base64')}`;

/** Each report the backend makes, provoked for real; resolves once it has been made. */
const provoke = {
  async tornTailCut(withFsOnError: boolean): Promise<void> {
    const file = path.join(temp.dir, 'torn.jsonl');
    writeFileSync(file, '{"type":"note"}\n{"type":"no', { mode: 0o600 });
    const records = session(file, withFsOnError);
    records.logRecord(prompt);
    await records.close();
  },

  async missingBlobOnReplay(withFsOnError: boolean): Promise<void> {
    const file = path.join(temp.dir, 'blobs.jsonl');
    const blobs = { dir: path.join(temp.dir, 'blobs') };
    const writer = new AgentRecords<AgentRecord>({
      persistence: new FileSystemAgentRecordPersistence(file, { blobs }),
      protocolVersion: '1.0',
      restore: () => {},
    });
    writer.logRecord({ ...prompt, content: image });
    await writer.close();
    for (const name of readdirSync(blobs.dir)) unlinkSync(path.join(blobs.dir, name));
    const reader = session(file, withFsOnError, { blobs });
    await reader.replay();
    await reader.close();
  },

  async staleLockTakenOver(withFsOnError: boolean): Promise<void> {
    const file = path.join(temp.dir, 'locked.jsonl');
    // This very pid in an earlier boot: stale (a reboot), so it is taken over with a warning.
    const lock = {
      pid: process.pid,
      token: randomUUID(),
      host: hostname(),
      boot_id: 'an-earlier-boot',
      acquired_at: Date.now() - 60_000,
    };
    writeFileSync(`${file}.lock`, JSON.stringify(lock), { mode: 0o600 });
    const records = session(file, withFsOnError);
    records.logRecord(prompt);
    await records.close();
  },

  async writeFailure(withFsOnError: boolean): Promise<void> {
    const file = path.join(temp.dir, 'failing.jsonl');
    const disk = new FaultyFileSystem();
    const records = session(file, withFsOnError, { fileOperations: disk.ops });
    await records.flush(); // the log exists; now the disk fails
    disk.fail('fdatasync', ioError('EIO', 'fdatasync'));
    records.logRecord(prompt);
    await expect(records.flush()).rejects.toThrow(/EIO/);
    disk.clear();
    await records.close();
  },
};

describe("the core's onError alone hears every fs report, and nothing is printed", () => {
  const warnings = [
    ['hears a torn tail being cut off', provoke.tornTailCut, /torn line/],
    ['hears a missing blob on replay', provoke.missingBlobOnReplay, /blob .* is missing/],
    ['hears a stale lock being taken over', provoke.staleLockTakenOver, /stale lock/],
  ] as const;
  for (const [name, run, message] of warnings) {
    it(name, async () => {
      await run(false);
      expect(heard).toEqual([
        { who: 'core', kind: 'warning', message: expect.stringMatching(message) },
      ]);
      expect(printed).not.toHaveBeenCalled();
    });
  }

  it('hears a write failure and its end', async () => {
    await provoke.writeFailure(false);
    expect(heard.map((report) => [report.who, report.kind])).toEqual([
      ['core', 'write-failed'],
      ['core', 'write-recovered'],
    ]);
    expect(heard[0]?.message).toMatch(/EIO/);
    expect(printed).not.toHaveBeenCalled();
  });
});

describe('with an fs onError and the core onError, both hear each report, the fs one first', () => {
  for (const [name, run] of Object.entries(provoke)) {
    it(`both hear it: ${name}`, async () => {
      await run(true);
      expect(heard.length).toBeGreaterThan(0);
      const fsHeard = heard.filter((_, i) => i % 2 === 0);
      const coreHeard = heard.filter((_, i) => i % 2 === 1);
      expect(fsHeard.every((report) => report.who === 'fs')).toBe(true);
      expect(coreHeard.map((report) => ({ ...report, who: 'fs' }))).toEqual(fsHeard);
      expect(printed).not.toHaveBeenCalled();
    });
  }
});
