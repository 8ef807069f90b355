import { spawn } from 'node:child_process';
import {
  appendFileSync,
  closeSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  rmSync,
  statSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

const bin = fileURLToPath(new URL('../dist/bin.js', import.meta.url));
let dir: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'cli-reader-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

/**
 * Runs the CLI in a child process without blocking this worker: a synchronous spawn of a CLI
 * reading a 65 MiB record can hold the event loop longer than the test runner's own messages
 * may wait ("Timeout calling onTaskUpdate") on a busy machine.
 */
function run(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bin, ...args], { cwd: dir });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk;
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

const META = '{"type":"metadata","protocol_version":"1.0","created_at":1764000000000}';

async function until(condition: () => boolean, what: string, ms = 15_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

describe('one line reader for the CLI and the backend', () => {
  it('validate passes a valid 65 MiB record and repair keeps it (the old CLI limit was 64 MiB)', async () => {
    const big = `{"type":"context.append_message","time":1764000001000,"text":"${'a'.repeat(65 * 1024 * 1024)}"}`;
    writeFileSync(path.join(dir, 'big.jsonl'), `${META}\n${big}\n`);
    const validate = await run(['validate', 'big.jsonl']);
    expect({ code: validate.code, stdout: validate.stdout, stderr: validate.stderr }).toEqual({
      code: 0,
      stdout: '',
      stderr: expect.stringContaining('valid (2 records)'),
    });

    // With a bad line to repair, the big record stays in the log and only the bad line moves.
    appendFileSync(path.join(dir, 'big.jsonl'), 'not json\n');
    const repair = await run(['repair', 'big.jsonl']);
    expect({ code: repair.code, stderr: repair.stderr }).toEqual({
      code: 0,
      stderr: expect.any(String),
    });
    const repaired = readFileSync(path.join(dir, 'big.jsonl'));
    expect(repaired.length).toBe(META.length + big.length + 2);
    expect(repaired.subarray(META.length + 1, META.length + 1 + 80).toString()).toBe(
      big.slice(0, 80),
    );
    const quarantine = readdirSync(dir).filter((name) => name.includes('.quarantine-'));
    expect(quarantine).toHaveLength(1);
    expect(readFileSync(path.join(dir, quarantine[0] as string), 'utf8')).toBe('not json\n');
    expect((await run(['validate', 'big.jsonl'])).code).toBe(0);
  }, 120_000);

  it('repair moves a line longer than a reader holds (256 MiB) to the quarantine whole, not as an empty line', async () => {
    const file = path.join(dir, 'huge.jsonl');
    const fd = openSync(file, 'w');
    const piece = Buffer.alloc(1024 * 1024, 0x61);
    writeSync(fd, `${META}\n{"type":"x","text":"`);
    let length = '{"type":"x","text":"'.length;
    for (let i = 0; i < 257; i++) length += writeSync(fd, piece);
    length += writeSync(fd, '"}\n');
    writeSync(fd, `${META}\n`);
    closeSync(fd);
    length -= 1; // the newline is not part of the line
    const repair = await run(['repair', 'huge.jsonl']);
    expect({ code: repair.code, stderr: repair.stderr }).toEqual({
      code: 0,
      stderr: expect.any(String),
    });
    const quarantine = readdirSync(dir).filter((name) => name.includes('.quarantine-'));
    expect(quarantine).toHaveLength(1);
    const moved = path.join(dir, quarantine[0] as string);
    expect(statSync(moved).size).toBe(length + 1);
    const head = Buffer.alloc(24);
    const check = openSync(moved, 'r');
    readSync(check, head, 0, 24, 0);
    const end = Buffer.alloc(3);
    readSync(check, end, 0, 3, length - 2);
    closeSync(check);
    expect(head.toString()).toBe('{"type":"x","text":"aaaa');
    expect(end.toString()).toBe('"}\n');
    expect(readFileSync(file, 'utf8')).toBe(`${META}\n${META}\n`);
  }, 300_000);

  it('validate reports a record with an empty type or a time that is not a number', async () => {
    const content = `${META}\n{"type":""}\n{"type":"x","time":"yesterday"}\n`;
    writeFileSync(path.join(dir, 'r.jsonl'), content);
    const result = await run(['validate', 'r.jsonl']);
    expect(result.code).toBe(1);
    const lines = result.stdout.split('\n').filter(Boolean);
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(new RegExp(`^r\\.jsonl:2:${META.length + 1}: `));
    expect(lines[1]).toMatch(
      /^r\.jsonl:3:\d+: record "x" has a "time" that is not a finite number/,
    );
  });
});

describe('tail -f', () => {
  it('prints a multi-byte character written in two pieces intact, not as U+FFFD', async () => {
    const file = path.join(dir, 'live.jsonl');
    writeFileSync(file, `${META}\n`);
    const child = spawn(process.execPath, [bin, 'tail', '-f', '-n', '1', '--json', 'live.jsonl'], {
      cwd: dir,
    });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (text: string) => {
      out += text;
    });
    const record = '{"type":"turn.prompt","turn_id":"t1","content":"naïve café 日本語 🙂"}';
    const bytes = Buffer.from(`${record}\n`, 'utf8');
    const split = bytes.indexOf(Buffer.from('日', 'utf8')) + 1; // inside the 3-byte character
    try {
      // Following has begun once the last record is printed.
      await until(() => out === `${META}\n`, 'tail to print the last record');
      // A whole record and the first piece of the next in one write: once the whole record is
      // printed, tail has read the piece too, so the rest arrives in a later read.
      const first = '{"type":"turn.steer","turn_id":"t1","content":"ok"}\n';
      appendFileSync(file, Buffer.concat([Buffer.from(first), bytes.subarray(0, split)]));
      await until(() => out.includes('turn.steer'), 'tail to print the first record');
      appendFileSync(file, bytes.subarray(split));
      await until(() => out.includes('turn.prompt'), 'tail to print the split record');
    } finally {
      child.kill('SIGTERM');
    }
    expect(out).toBe(`${META}\n{"type":"turn.steer","turn_id":"t1","content":"ok"}\n${record}\n`);
  }, 60_000);
});
