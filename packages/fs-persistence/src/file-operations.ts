import fs from 'node:fs';

/**
 * The file-system calls the backend makes, as one narrow seam. The default is the real `node:fs`;
 * tests wrap it to inject ENOSPC, EIO or short writes into real files. Not a place for a fake
 * file system: every implementation must end in real calls.
 */
export interface FileOperations {
  open(path: string, flags: string | number, mode?: number): Promise<number>;
  close(fd: number): Promise<void>;
  /** Writes at `position`; may write fewer bytes than asked (the caller completes the write). */
  write(
    fd: number,
    buffer: Buffer,
    offset: number,
    length: number,
    position: number,
  ): Promise<number>;
  read(
    fd: number,
    buffer: Buffer,
    offset: number,
    length: number,
    position: number,
  ): Promise<number>;
  fdatasync(fd: number): Promise<void>;
  fsync(fd: number): Promise<void>;
  ftruncate(fd: number, length: number): Promise<void>;
  /** `ino` (the inode) is part of a log's identity in positions; absent, only the first line is. */
  fstat(fd: number): Promise<{ size: number; ino?: number }>;
  rename(from: string, to: string): Promise<void>;
  /** Hard link; fails with EEXIST when `to` exists (the atomic create-if-absent of the lock). */
  link(from: string, to: string): Promise<void>;
  unlink(path: string): Promise<void>;
  mkdir(path: string, mode: number): Promise<void>;
  readdir(path: string): Promise<string[]>;
  /** The path with every symlink resolved (a symlinked log is replaced at its target). */
  realpath(path: string): Promise<string>;
}

function call<T>(run: (done: (error: NodeJS.ErrnoException | null, value?: T) => void) => void) {
  return new Promise<T>((resolve, reject) => {
    run((error, value) => (error ? reject(error) : resolve(value as T)));
  });
}

/** The real file system, through `node:fs` callbacks (cheaper than `fs/promises` handles). */
export const nodeFileOperations: FileOperations = {
  open: (path, flags, mode) => call((done) => fs.open(path, flags, mode, done)),
  close: (fd) => call((done) => fs.close(fd, done)),
  // Written out, not through call(): the write runs for every durable append, and the closure
  // call() takes cost ~100 bytes and a call per record.
  write: (fd, buffer, offset, length, position) =>
    new Promise<number>((resolve, reject) => {
      fs.write(fd, buffer, offset, length, position, (error, written) =>
        error ? reject(error) : resolve(written),
      );
    }),
  read: (fd, buffer, offset, length, position) =>
    call((done) => fs.read(fd, buffer, offset, length, position, done)),
  fdatasync: (fd) => call((done) => fs.fdatasync(fd, done)),
  fsync: (fd) => call((done) => fs.fsync(fd, done)),
  ftruncate: (fd, length) => call((done) => fs.ftruncate(fd, length, done)),
  fstat: (fd) => call((done) => fs.fstat(fd, done)),
  rename: (from, to) => call((done) => fs.rename(from, to, done)),
  link: (from, to) => call((done) => fs.link(from, to, done)),
  unlink: (path) => call((done) => fs.unlink(path, done)),
  mkdir: (path, mode) =>
    call<string | undefined>((done) => fs.mkdir(path, { recursive: true, mode }, done)).then(
      () => undefined,
    ),
  readdir: (path) => call((done) => fs.readdir(path, done)),
  realpath: (path) => call((done) => fs.realpath(path, done)),
};

export function errorCode(error: unknown): string | undefined {
  return typeof error === 'object' && error !== null
    ? ((error as { code?: unknown }).code as string | undefined)
    : undefined;
}

/** Writes all of `buffer` at `position`, completing short writes and retrying EAGAIN. */
export function writeFully(
  ops: FileOperations,
  fd: number,
  buffer: Buffer,
  position: number,
): Promise<void> {
  return transferFully(ops, 'write', fd, buffer, position);
}

/** Fills all of `buffer` from `position`; the end of the file before it is full throws. */
export function readFully(
  ops: FileOperations,
  fd: number,
  buffer: Buffer,
  position: number,
): Promise<void> {
  return transferFully(ops, 'read', fd, buffer, position);
}

/**
 * The one loop behind {@link writeFully} and {@link readFully}: a call may move fewer bytes than
 * asked, so it goes on from where the last one stopped; EAGAIN is retried a bounded number of
 * times. Nothing moved means the end of the file for a read, a stalled device for a write.
 */
async function transferFully(
  ops: FileOperations,
  direction: 'read' | 'write',
  fd: number,
  buffer: Buffer,
  position: number,
): Promise<void> {
  let done = 0;
  let stalls = 0;
  while (done < buffer.length) {
    let moved: number;
    try {
      moved = await ops[direction](fd, buffer, done, buffer.length - done, position + done);
    } catch (error) {
      if (errorCode(error) === 'EAGAIN' && stalls++ < 100) {
        await new Promise((resolve) => setImmediate(resolve));
        continue;
      }
      throw error;
    }
    if (moved === 0) {
      if (direction === 'read')
        throw new Error(`unexpected end of file at byte ${position + done}`);
      if (stalls++ >= 100) throw new Error('write made no progress');
    }
    done += moved;
  }
}

/** fsyncs a directory, so a file created, renamed or removed in it survives a crash. */
export async function syncDirectory(ops: FileOperations, dir: string): Promise<void> {
  const fd = await ops.open(dir, 'r');
  try {
    await ops.fsync(fd);
  } finally {
    await ops.close(fd);
  }
}

/**
 * A whole small file (a lock, a /proc entry) as UTF-8 text, through `ops`: every step goes
 * through the seam, so fault injection and the crash tests' accounting of file time see it.
 */
export async function readTextFile(ops: FileOperations, file: string): Promise<string> {
  const fd = await ops.open(file, 'r');
  try {
    const pieces: Buffer[] = [];
    for (let position = 0; ; ) {
      const buffer = Buffer.allocUnsafe(4096);
      const got = await ops.read(fd, buffer, 0, buffer.length, position);
      if (got === 0) break;
      pieces.push(buffer.subarray(0, got));
      position += got;
    }
    return Buffer.concat(pieces).toString('utf8');
  } finally {
    await ops.close(fd).catch(() => {});
  }
}
