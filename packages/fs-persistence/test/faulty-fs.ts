// Fault injection through the backend's file-operations seam: every call still goes to the
// real node:fs; a fault makes a chosen call fail (or write only part of its buffer first).
import { constants } from 'node:fs';
import type { AgentRecordEnvelope } from '@agent-records/types';
import type { FileOperations } from '../src/file-operations.js';
import { nodeFileOperations } from '../src/file-operations.js';
import {
  FileSystemAgentRecordPersistence,
  type FileSystemAgentRecordPersistenceOptions,
} from '../src/fs-persistence.js';

type OpName = keyof FileOperations;

export function ioError(code: 'ENOSPC' | 'EIO', syscall: string): NodeJS.ErrnoException {
  const message = code === 'ENOSPC' ? 'no space left on device' : 'i/o error';
  return Object.assign(new Error(`${code}: ${message}, ${syscall}`), { code, syscall });
}

export class FaultyFileSystem {
  readonly calls: Record<string, number> = {};
  #faults = new Map<
    OpName,
    { error: Error; shortFirst: boolean; onlyPath?: (path: string) => boolean }
  >();
  /** The path each open descriptor was opened with, so a fault can target one file. */
  #paths = new Map<number, string>();
  /** Descriptors opened with O_DSYNC: a write through one is also its data sync. */
  #dsync = new Set<number>();

  /** Writes through an O_DSYNC descriptor and fdatasync calls: each is one durable sync. */
  get dataSyncs(): number {
    return (this.calls.fdatasync ?? 0) + (this.calls.dsyncWrite ?? 0);
  }

  /**
   * From now on `op` fails with `error`. With `shortFirst`, the first write lands half its bytes.
   * With `onlyPath`, only calls on matching files (by path, or by descriptor opened from it) fail.
   */
  fail(
    op: OpName,
    error: Error,
    options: { shortFirst?: boolean; onlyPath?: (path: string) => boolean } = {},
  ): void {
    this.#faults.set(op, {
      error,
      shortFirst: options.shortFirst ?? false,
      onlyPath: options.onlyPath,
    });
  }

  clear(): void {
    this.#faults.clear();
  }

  readonly ops: FileOperations = Object.fromEntries(
    (Object.keys(nodeFileOperations) as OpName[]).map((name) => [
      name,
      async (...args: unknown[]) => {
        this.calls[name] = (this.calls[name] ?? 0) + 1;
        const target = typeof args[0] === 'number' ? this.#paths.get(args[0]) : String(args[0]);
        let fault = this.#faults.get(name);
        if (fault?.onlyPath && !(target !== undefined && fault.onlyPath(target))) fault = undefined;
        const dsyncWrite = name === 'write' && this.#dsync.has(args[0] as number);
        if (dsyncWrite) this.calls.dsyncWrite = (this.calls.dsyncWrite ?? 0) + 1;
        // A write on an O_DSYNC descriptor syncs its data: a failing fdatasync fails it too,
        // after its bytes reached the file (what a failed sync leaves), unless write fails first.
        let syncFault = this.#faults.get('fdatasync');
        if (syncFault?.onlyPath && !(target !== undefined && syncFault.onlyPath(target)))
          syncFault = undefined;
        if (!fault && dsyncWrite && syncFault) {
          await (nodeFileOperations.write as (...a: unknown[]) => Promise<unknown>)(...args);
          throw syncFault.error;
        }
        if (fault && name === 'write' && fault.shortFirst) {
          fault.shortFirst = false;
          const [fd, buffer, offset, length, position] = args as [
            number,
            Buffer,
            number,
            number,
            number,
          ];
          // A real short write: half the bytes reach the file, then the device is full.
          return nodeFileOperations.write(fd, buffer, offset, Math.max(1, length >> 1), position);
        }
        if (fault) throw fault.error;
        const result = await (nodeFileOperations[name] as (...a: unknown[]) => Promise<unknown>)(
          ...args,
        );
        if (name === 'open') {
          this.#paths.set(result as number, String(args[0]));
          const flags = args[1];
          if (typeof flags === 'number' && (flags & constants.O_DSYNC) !== 0)
            this.#dsync.add(result as number);
          else this.#dsync.delete(result as number);
        }
        return result;
      },
    ]),
  ) as unknown as FileOperations;
}

/**
 * A log on a disk that fails on demand (`faults.fail(...)`), every call still real `node:fs`.
 * Reports go nowhere unless `options.onError` says otherwise: the tests read what they check.
 */
export function openOnFaultyDisk<R extends AgentRecordEnvelope>(
  file: string,
  options: FileSystemAgentRecordPersistenceOptions = {},
): { faults: FaultyFileSystem; persistence: FileSystemAgentRecordPersistence<R> } {
  const faults = new FaultyFileSystem();
  const persistence = new FileSystemAgentRecordPersistence<R>(file, {
    onError: () => {},
    ...options,
    fileOperations: faults.ops,
  });
  return { faults, persistence };
}
