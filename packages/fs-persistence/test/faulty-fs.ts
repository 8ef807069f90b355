// Fault injection through the backend's file-operations seam: every call still goes to the
// real node:fs; a fault makes a chosen call fail (or write only part of its buffer first).
import type { FileOperations } from '../src/file-operations.js';
import { nodeFileOperations } from '../src/file-operations.js';

type OpName = keyof FileOperations;

export function ioError(code: 'ENOSPC' | 'EIO', syscall: string): NodeJS.ErrnoException {
  const message = code === 'ENOSPC' ? 'no space left on device' : 'i/o error';
  return Object.assign(new Error(`${code}: ${message}, ${syscall}`), { code, syscall });
}

export class FaultyFileSystem {
  readonly calls: Record<string, number> = {};
  #faults = new Map<OpName, { error: Error; shortFirst: boolean }>();

  /** From now on `op` fails with `error`. With `shortFirst`, the first write lands half its bytes. */
  fail(op: OpName, error: Error, options: { shortFirst?: boolean } = {}): void {
    this.#faults.set(op, { error, shortFirst: options.shortFirst ?? false });
  }

  clear(): void {
    this.#faults.clear();
  }

  readonly ops: FileOperations = Object.fromEntries(
    (Object.keys(nodeFileOperations) as OpName[]).map((name) => [
      name,
      async (...args: unknown[]) => {
        this.calls[name] = (this.calls[name] ?? 0) + 1;
        const fault = this.#faults.get(name);
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
        return (nodeFileOperations[name] as (...a: unknown[]) => Promise<unknown>)(...args);
      },
    ]),
  ) as unknown as FileOperations;
}
