import type { Readable, Writable } from 'node:stream';
import { CliError, EXIT } from './errors.js';
import { terminalText } from './terminal-text.js';

/**
 * Where a command reads and writes: the process's streams in the binary, captured streams in
 * tests (so a test runs a command in-process, without a child process).
 */
export interface CliIo {
  out: Writable;
  err: Writable;
  /** Whether `out` is a terminal: colour only then (and never with `NO_COLOR`). */
  isTTY: boolean;
  env: Record<string, string | undefined>;
  /** What `-` reads. Default: the process's stdin. */
  stdin?: Readable;
}

/** The io of the running process. */
export function processIo(): CliIo {
  return {
    out: process.stdout,
    err: process.stderr,
    isTTY: process.stdout.isTTY === true,
    env: process.env,
    stdin: process.stdin,
  };
}

/**
 * Runs a command's body and turns a `CliError` into its one-line message on `err` and its exit
 * code, so every command returns a code instead of throwing at its caller.
 */
export async function runGuarded(io: CliIo, body: () => Promise<number>): Promise<number> {
  try {
    return await body();
  } catch (error) {
    // Messages quote logs and lock files (a record's type, a migration's error): made safe.
    if (error instanceof CliError) {
      io.err.write(`agent-records: ${terminalLines(error.message)}\n`);
      return error.exitCode;
    }
    io.err.write(`agent-records: ${terminalLines((error as Error)?.stack ?? String(error))}\n`);
    return EXIT.io;
  }
}

/** `text` made safe for a terminal line by line (its newlines kept). */
export function terminalLines(text: string): string {
  return text.split('\n').map(terminalText).join('\n');
}

/** Writes lines to `out`, waiting when the pipe is full; a closed pipe (`| head`) ends quietly. */
export class LineWriter {
  #closed = false;
  constructor(private readonly stream: Writable) {
    stream.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'EPIPE') this.#closed = true;
      else throw error;
    });
  }
  get closed(): boolean {
    return this.#closed;
  }
  async line(text: string): Promise<void> {
    if (this.#closed) return;
    if (!this.stream.write(`${text}\n`)) {
      await new Promise<void>((resolve) => {
        const done = () => {
          this.stream.off('drain', done);
          this.stream.off('error', done);
          this.stream.off('close', done);
          resolve();
        };
        this.stream.on('drain', done);
        this.stream.on('error', done);
        this.stream.on('close', done);
      });
    }
  }
}
