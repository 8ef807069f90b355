import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { AgentRecords } from '@agent-records/core';
import {
  type AgentRecordEnvelope,
  type RecordsErrorInfo,
  RecordsWriteError,
} from '@agent-records/types';
import { afterAll, describe, expect, it } from 'vitest';
import { FileSystemAgentRecordPersistence } from './fs-persistence.js';

// A real, size-limited file system: a tmpfs mounted for this test. It needs root (as on CI);
// elsewhere the test is skipped with the reason, and the seam-based fault tests still run.
const mountPoint = mkdtempSync(path.join(tmpdir(), 'tmpfs-'));
let mounted = false;
let reason = '';
try {
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=256k,mode=0700', 'tmpfs', mountPoint], {
    stdio: 'pipe',
  });
  mounted = true;
} catch (error) {
  reason = `cannot mount a tmpfs here (${String((error as Error).message).split('\n')[0]})`;
  console.log(`skipping the real-ENOSPC test: ${reason}`);
}

afterAll(() => {
  if (mounted) execFileSync('umount', ['-l', mountPoint]);
  rmSync(mountPoint, { recursive: true, force: true });
});

describe.skipIf(!mounted)('a real full disk (tmpfs of 256 KiB)', () => {
  it('keeps the agent running, reports once, and writes everything once the disk has room', async () => {
    const file = path.join(mountPoint, 'full.jsonl');
    const seen: Array<[string, Error]> = [];
    const onError = (error: Error, info: RecordsErrorInfo) => seen.push([info.kind, error]);
    // One handler, the core's: it hears the backend's reports through setErrorHandler.
    const persistence = new FileSystemAgentRecordPersistence<AgentRecordEnvelope>(file);
    const records = new AgentRecords<AgentRecordEnvelope>({
      persistence,
      protocolVersion: '1.0',
      onError,
    });

    const padding = 'x'.repeat(1000);
    let logged = 0;
    let failure: unknown;
    for (let batch = 0; batch < 100 && !failure; batch++) {
      for (let i = 0; i < 20; i++) {
        records.logRecord({ type: 'fill', n: logged++, pad: padding } as AgentRecordEnvelope);
      }
      failure = await records.flush().then(
        () => undefined,
        (error: unknown) => error,
      );
    }
    expect(failure).toBeInstanceOf(RecordsWriteError);
    expect(((failure as Error).cause as NodeJS.ErrnoException).code).toBe('ENOSPC');
    // More logging during the episode still returns, and still reports only once.
    for (let i = 0; i < 50; i++)
      records.logRecord({ type: 'fill', n: logged++, pad: padding } as AgentRecordEnvelope);
    await expect(records.flush()).rejects.toBeInstanceOf(RecordsWriteError);
    // The backend reports the episode; the core, which saw no failing append, adds nothing.
    expect(seen.filter(([kind]) => kind === 'write-failed')).toHaveLength(1);
    execFileSync('mount', ['-o', 'remount,size=8m', mountPoint]);
    await records.close();
    const lines = readFileSync(file, 'utf8')
      .trimEnd()
      .split('\n')
      .map((line) => JSON.parse(line));
    expect(lines[0]).toMatchObject({ type: 'metadata' });
    expect(lines.slice(1).map((r) => r.n)).toEqual(Array.from({ length: logged }, (_, i) => i));
  }, 60_000);
});
