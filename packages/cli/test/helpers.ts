import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable, Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach } from 'vitest';
import { main } from '../src/cli.js';
import type { CliIo } from '../src/io.js';

/** The built binary, for the tests that need a real child process. */
export const bin = fileURLToPath(new URL('../dist/bin.js', import.meta.url));

export const META = '{"type":"metadata","protocol_version":"1.0","created_at":1764000000000}';
export const PROMPT =
  '{"type":"turn.prompt","turn_id":"t1","content":"Summarise the README","time":1764000001000}';
export const MESSAGE =
  '{"type":"context.append_message","time":1764000002000,"message":{"role":"assistant","content":[{"type":"text","text":"It describes a durable log."}]}}';
export const USAGE =
  '{"type":"usage.record","time":1764000003000,"model":"m","input_tokens":10,"output_tokens":5}';
export const VALID = `${[META, PROMPT, MESSAGE, USAGE].join('\n')}\n`;

/** A fresh temp folder per test, removed after it. */
export function tempDir(prefix: string): { readonly path: string } {
  const holder = { path: '' };
  beforeEach(() => {
    holder.path = mkdtempSync(path.join(tmpdir(), prefix));
  });
  afterEach(() => rmSync(holder.path, { recursive: true, force: true }));
  return holder;
}

export function writeLog(dir: string, name: string, content: string | Buffer): string {
  const file = path.join(dir, name);
  writeFileSync(file, content);
  return file;
}

class Capture extends Writable {
  text = '';
  override _write(chunk: Buffer | string, _encoding: string, done: () => void): void {
    this.text += chunk.toString();
    done();
  }
}

export interface Captured {
  io: CliIo;
  readonly stdout: string;
  readonly stderr: string;
}

/** An io whose output the test reads; `stdin` is what `-` reads. */
export function captureIo(
  options: { isTTY?: boolean; env?: Record<string, string>; stdin?: string } = {},
): Captured {
  const out = new Capture();
  const err = new Capture();
  const io: CliIo = {
    out,
    err,
    isTTY: options.isTTY ?? false,
    env: options.env ?? {},
    stdin: Readable.from([Buffer.from(options.stdin ?? '')]),
  };
  return {
    io,
    get stdout() {
      return out.text;
    },
    get stderr() {
      return err.text;
    },
  };
}

/** Runs the command line in this process; returns its exit code and what it printed. */
export async function runCli(
  argv: string[],
  options: Parameters<typeof captureIo>[0] = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  const captured = captureIo(options);
  const code = await main(argv, captured.io);
  return { code, stdout: captured.stdout, stderr: captured.stderr };
}
