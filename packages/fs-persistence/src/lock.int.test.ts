import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import path from 'node:path';
import {
  type AgentRecordEnvelope,
  type RecordsErrorInfo,
  RecordsLockedError,
} from '@agent-records/types';
import { describe, expect, it } from 'vitest';
import { startChild } from '../test/child.js';
import { useTempDir } from '../test/temp-dir.js';
import { type FileOperations, nodeFileOperations } from './file-operations.js';
import { FileSystemAgentRecordPersistence } from './fs-persistence.js';
import { acquireWriterLock, readLockHolder } from './lock.js';
import { FileSystemAgentRecordStore } from './store.js';

const temp = useTempDir('lock-');

describe('two writers in two processes', () => {
  it('refuses the second writer while the first lives, and takes over after it is killed', async () => {
    const file = path.join(temp.dir, 'shared.jsonl');
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

function bootId(): string | undefined {
  try {
    return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
  } catch {
    return undefined;
  }
}

/** A pid that surely names no running process: a child that has already exited. */
function deadPid(): number {
  const result = spawnSync(process.execPath, ['-e', '0']);
  expect(result.pid).toBeGreaterThan(0);
  return result.pid as number;
}

function writeLock(file: string, content: unknown): string {
  const lockFile = `${file}.lock`;
  writeFileSync(lockFile, typeof content === 'string' ? content : JSON.stringify(content));
  return lockFile;
}

function staleLock(pid: number, extra: Record<string, unknown> = {}) {
  return {
    pid,
    token: randomUUID(),
    host: hostname(),
    boot_id: bootId(),
    acquired_at: Date.now() - 60_000,
    ...extra,
  };
}

/** Opens a writer, appends one record and flushes it; the writer stays open until `close()`. */
async function openAndWrite(
  file: string,
  type: string,
  options: { fileOperations?: FileOperations } = {},
) {
  const persistence = new FileSystemAgentRecordPersistence<AgentRecordEnvelope>(file, {
    ...options,
    onError: () => {},
  });
  persistence.append({ type });
  const result = await persistence.flush().then(
    () => ({ ok: true as const }),
    (error: unknown) => ({ ok: false as const, error }),
  );
  return { result, close: () => persistence.close().catch(() => {}) };
}

/** Writes one record and closes the writer. */
async function write(
  file: string,
  type: string,
  options: { fileOperations?: FileOperations } = {},
): Promise<{ ok: true } | { ok: false; error: unknown }> {
  const { result, close } = await openAndWrite(file, type, options);
  await close();
  return result;
}

function recordTypes(file: string): string[] {
  return readFileSync(file, 'utf8')
    .trimEnd()
    .split('\n')
    .map((l) => JSON.parse(l).type);
}

/**
 * File operations that hold back each writer's first step on the lock after its first attempt
 * to create it (the take-over step, taken once it judged the lock stale) until both writers
 * have judged; `extraPauseMs` then delays one of them, so the other acts inside its window.
 */
function takeOverBarrier(lockFile: string) {
  let arrived = 0;
  let release: () => void = () => {};
  const allArrived = new Promise<void>((resolve) => {
    release = resolve;
  });
  const isLockStep = (name: string, args: unknown[]) =>
    (name === 'link' || name === 'rename') && String(args[1]).startsWith(lockFile)
      ? true
      : name === 'unlink' && args[0] === lockFile;
  const wrap = (extraPauseMs: number): FileOperations => {
    let lockSteps = 0;
    return Object.fromEntries(
      Object.entries(nodeFileOperations).map(([name, op]) => [
        name,
        async (...args: unknown[]) => {
          if (isLockStep(name, args) && ++lockSteps === 2) {
            arrived++;
            if (arrived === 2) release();
            await Promise.race([allArrived, new Promise((r) => setTimeout(r, 20_000))]);
            await new Promise((r) => setTimeout(r, extraPauseMs));
          }
          return (op as (...a: unknown[]) => Promise<unknown>)(...args);
        },
      ]),
    ) as unknown as FileOperations;
  };
  return { wrap, arrived: () => arrived };
}

describe('taking over a stale lock', () => {
  it('lets only one of two writers take over the same stale lock, even when one pauses mid-way', async () => {
    const file = path.join(temp.dir, 'raced.jsonl');
    writeLock(file, staleLock(deadPid()));
    const barrier = takeOverBarrier(`${file}.lock`);
    // Both writers stay open until both flushed: a lock released by a closed writer may be
    // taken by the next one, and that is no race.
    const writers = await Promise.all([
      openAndWrite(file, 'slow', { fileOperations: barrier.wrap(200) }),
      openAndWrite(file, 'fast', { fileOperations: barrier.wrap(0) }),
    ]);
    const [slow, fast] = writers.map((w) => w.result) as [
      { ok: boolean; error?: unknown },
      { ok: boolean; error?: unknown },
    ];
    for (const writer of writers) await writer.close();
    expect(barrier.arrived()).toBe(2); // both judged the lock stale before either acted
    // Exactly one wins, whichever the scheduler lets act first (usually `fast`, as `slow`
    // pauses; on a starved machine either may): the other is refused, and only the winner's
    // record is in the log.
    const outcomes = [
      { name: 'slow', ...slow },
      { name: 'fast', ...fast },
    ];
    const winners = outcomes.filter((outcome) => outcome.ok);
    expect(winners).toHaveLength(1);
    const loser = outcomes.find((outcome) => !outcome.ok);
    expect(loser?.error).toBeInstanceOf(RecordsLockedError);
    expect(recordTypes(file)).toEqual([winners[0]?.name]);
    // No lock or temp file left; the winner's summary beside its log.
    expect(readdirSync(temp.dir).sort()).toEqual(['raced.jsonl', 'raced.jsonl.summary.json']);
  }, 60_000);

  it('lets exactly one of four racing processes take over a stale lock', async () => {
    for (let round = 0; round < 3; round++) {
      const file = path.join(temp.dir, `race-${round}.jsonl`);
      writeLock(file, staleLock(deadPid()));
      const racers = Array.from({ length: 4 }, () => startChild('lock-holder.mjs', [file]));
      try {
        await Promise.all(racers.map((racer) => racer.waitForLines(1)));
        const outcomes = racers.map((racer) => racer.lines[0]).sort();
        expect(outcomes).toEqual([
          'locked',
          'refused RECORDS_LOCKED',
          'refused RECORDS_LOCKED',
          'refused RECORDS_LOCKED',
        ]);
        const winner = racers.find((racer) => racer.lines[0] === 'locked');
        expect((await readLockHolder(`${file}.lock`))?.pid).toBe(winner?.child.pid);
        expect(recordTypes(file)).toEqual(['holder']);
      } finally {
        await Promise.all(racers.map((racer) => racer.kill()));
      }
    }
  }, 120_000);

  it('takes over a lock of this very pid left by an earlier boot (a restarted container)', async () => {
    const file = path.join(temp.dir, 'rebooted.jsonl');
    writeLock(file, staleLock(process.pid, { boot_id: 'an-earlier-boot' }));
    expect(await write(file, 'after-reboot')).toEqual({ ok: true });
    expect(recordTypes(file)).toEqual(['after-reboot']);
  });

  it('takes over a lock of this pid from the same boot when the process started at another time', async () => {
    const file = path.join(temp.dir, 'restarted.jsonl');
    writeLock(file, staleLock(process.pid, { started: '1' }));
    expect(await write(file, 'after-restart')).toEqual({ ok: true });
  });

  it('refuses another live instance of this process (same pid, same boot, other token)', async () => {
    const file = path.join(temp.dir, 'twice.jsonl');
    const first = new FileSystemAgentRecordPersistence<AgentRecordEnvelope>(file, {
      onError: () => {},
    });
    first.append({ type: 'first' });
    await first.flush();
    const second = await write(file, 'second');
    expect(second.ok).toBe(false);
    expect((second as { error: Error }).error.message).toMatch(/another instance in this process/);
    await first.close();
  });
});

describe('locks that cannot be judged', () => {
  it('refuses a lock of another host, saying whose it is and how to clear it', async () => {
    const file = path.join(temp.dir, 'foreign.jsonl');
    const since = Date.UTC(2026, 0, 2, 3, 4, 5);
    writeLock(file, staleLock(4242, { host: 'build-box-7', acquired_at: since }));
    const result = await write(file, 'mine');
    expect(result.ok).toBe(false);
    const error = (result as { error: Error }).error;
    expect(error).toBeInstanceOf(RecordsLockedError);
    expect(error.message).toContain('process 4242 on host build-box-7');
    expect(error.message).toContain('2026-01-02T03:04:05.000Z');
    expect(error.message).toContain(`agent-records unlock --force ${file}`);
  });

  it.each([
    ['null', 'null'],
    ['a number', '42'],
    ['an array', '[1,2]'],
    ['an object that is not a lock', '{"pid":"12"}'],
    ['garbage', 'not json at all'],
    ['empty', ''],
  ])(
    'refuses a lock file holding %s with a clear RecordsLockedError, also from store.delete()',
    async (_, content) => {
      const root = path.join(temp.dir, 'store');
      const store = new FileSystemAgentRecordStore(root);
      const first = store.open<AgentRecordEnvelope>('s');
      first.append({ type: 'a' });
      await first.close();
      const file = store.fileOf('s');
      const lockFile = writeLock(file, content);
      for (const failure of [
        (await write(file, 'mine')) as { error: Error },
        { error: (await store.delete('s').catch((error: unknown) => error)) as Error },
      ]) {
        expect(failure.error).toBeInstanceOf(RecordsLockedError);
        expect(failure.error.message).toContain(lockFile);
        expect(failure.error.message).toContain(`agent-records unlock --force ${file}`);
      }
      expect(readFileSync(lockFile, 'utf8')).toBe(content);
      expect(recordTypes(file)).toEqual(['a']);
    },
  );
});

describe('the lock reads through the file operations seam', () => {
  it('reads the lock file and /proc through fileOperations (fault injection and crash accounting see them)', async () => {
    const file = path.join(temp.dir, 'seam.jsonl');
    // Our own pid with a start time that is not ours: a reused pid, so the lock is stale and
    // judging it reads /proc/<pid>/stat.
    writeLock(file, staleLock(process.pid, { started: 'not-this-process' }));
    const opened: string[] = [];
    const fileOperations: FileOperations = {
      ...nodeFileOperations,
      open: (target, flags, mode) => {
        opened.push(target);
        return nodeFileOperations.open(target, flags, mode);
      },
    };
    const writer = await openAndWrite(file, 'through-the-seam', { fileOperations });
    await writer.close();
    expect(writer.result.ok).toBe(true);
    expect(opened).toContain(`${file}.lock`);
    expect(opened).toContain(`/proc/${process.pid}/stat`);
  });
});

describe("acquireWriterLock (a lock held outside a backend, as the CLI's repair does)", () => {
  it('refuses every writer while held, is refused by a live writer, and frees the log on release', async () => {
    const file = path.join(temp.dir, 'held.jsonl');
    writeFileSync(file, '{"type":"a"}\n');
    const held = await acquireWriterLock(path.relative(process.cwd(), file));
    expect(held.lockFile).toBe(`${file}.lock`);
    expect(held.tookOverFrom).toBeUndefined();
    expect((await readLockHolder(held.lockFile))?.pid).toBe(process.pid);

    const refused = await write(file, 'during');
    expect(refused.ok).toBe(false);
    expect((refused as { error: Error }).error).toBeInstanceOf(RecordsLockedError);
    // A second holder is refused too, as a second writer is.
    await expect(acquireWriterLock(file)).rejects.toBeInstanceOf(RecordsLockedError);

    await held.release();
    await held.release(); // twice is harmless
    expect(readdirSync(temp.dir).filter((name) => name.includes('.lock'))).toEqual([]);
    const writer = await openAndWrite(file, 'after');
    expect(writer.result.ok).toBe(true);
    // Now a writer holds it: acquiring is refused, naming it, and leaves its lock alone.
    const failure = await acquireWriterLock(file).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(RecordsLockedError);
    expect((failure as Error).message).toContain('another instance in this process');
    await writer.close();
    expect(recordTypes(file)).toEqual(['a', 'after']);
  });

  it('takes over a stale lock as a writer does and says whose it was', async () => {
    const file = path.join(temp.dir, 'stale.jsonl');
    writeFileSync(file, '{"type":"a"}\n');
    const pid = deadPid();
    writeLock(file, staleLock(pid));
    const held = await acquireWriterLock(file);
    expect(held.tookOverFrom?.pid).toBe(pid);
    expect(held.tookOverFrom?.state).toBe('dead');
    expect((await readLockHolder(`${file}.lock`))?.pid).toBe(process.pid);
    await held.release();
    expect(await readLockHolder(`${file}.lock`)).toBeNull();
  });

  it("refuses another host's lock and a file that is not a lock, leaving them in place", async () => {
    const file = path.join(temp.dir, 'other.jsonl');
    writeFileSync(file, '{"type":"a"}\n');
    const lockFile = writeLock(file, staleLock(4242, { host: 'build-box-7' }));
    await expect(acquireWriterLock(file)).rejects.toThrow(/build-box-7/);
    writeFileSync(lockFile, 'garbage');
    await expect(acquireWriterLock(file)).rejects.toBeInstanceOf(RecordsLockedError);
    expect(readFileSync(lockFile, 'utf8')).toBe('garbage');
  });
});
