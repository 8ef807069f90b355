import { type SpawnSyncReturns, spawn, spawnSync } from 'node:child_process';
import {
  appendFileSync,
  closeSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { FileSystemAgentRecordPersistence } from '@agent-records/fs-persistence';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

const bin = fileURLToPath(new URL('../dist/bin.js', import.meta.url));
let dir: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'cli-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function run(
  args: string[],
  nodeArgs: string[] = [],
): SpawnSyncReturns<string> & { code: number | null } {
  const result = spawnSync(process.execPath, [...nodeArgs, bin, ...args], {
    cwd: dir,
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  });
  return Object.assign(result, { code: result.status });
}

const META = '{"type":"metadata","protocol_version":"1.0","created_at":1764000000000}';
const PROMPT =
  '{"type":"turn.prompt","turn_id":"t1","content":"Summarise the README","time":1764000001000}';
const MESSAGE =
  '{"type":"context.append_message","time":1764000002000,"message":{"role":"assistant","content":[{"type":"text","text":"It describes a durable log."}]}}';
const USAGE =
  '{"type":"usage.record","time":1764000003000,"model":"m","input_tokens":10,"output_tokens":5}';
const VALID = `${[META, PROMPT, MESSAGE, USAGE].join('\n')}\n`;

function log(name: string, content: string | Buffer): string {
  writeFileSync(path.join(dir, name), content);
  return name;
}

describe('agent-records inspect', () => {
  it('describes a valid log', () => {
    const result = run(['inspect', log('s.jsonl', VALID)]);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/protocol:\s+1\.0/);
    expect(result.stdout).toMatch(/records:\s+4/);
    expect(result.stdout).toMatch(/turn\.prompt\s+1 record\s/);
    expect(result.stdout).toMatch(
      /time span:\s+2025-11-24T16:00:01\.000Z \.\. 2025-11-24T16:00:03\.000Z/,
    );
    expect(result.stdout).toMatch(/lock:\s+none/);
    expect(result.stderr).toBe('');
  });

  it('reports JSON with bytes by type, a write in progress (live lock) or a torn tail, and the lock holder', async () => {
    const file = path.join(dir, 'live.jsonl');
    const writer = new FileSystemAgentRecordPersistence(file);
    writer.append(JSON.parse(META));
    await writer.flush();
    appendFileSync(file, '{"type":"torn","x');
    const result = run(['inspect', '--json', 'live.jsonl']);
    await writer.close();
    // While its writer holds the lock, the unfinished last line is its write in progress.
    expect(result.code).toBe(0);
    const report = JSON.parse(result.stdout);
    expect(report.byType.metadata).toEqual({ count: 1, bytes: META.length + 1 });
    expect(report.tornTail).toBeNull();
    expect(report.writeInProgress).toEqual({
      offset: META.length + 1,
      bytes: 17,
      pid: process.pid,
      host: report.lock.host,
    });
    expect(report.lock).toMatchObject({ pid: process.pid, alive: true });
    // Its writer gone (lock released), the same line is a torn tail.
    const after = run(['inspect', '--json', 'live.jsonl']);
    expect(after.code).toBe(1);
    const torn = JSON.parse(after.stdout);
    expect(torn.tornTail).toEqual({ offset: META.length + 1, bytes: 17 });
    expect(torn.writeInProgress).toBeNull();
    expect(torn.lock).toBeNull();
  });

  it('handles an empty log, a binary file and a directory', () => {
    const empty = run(['inspect', log('empty.jsonl', '')]);
    expect(empty.code).toBe(0);
    expect(empty.stdout).toMatch(/records:\s+0/);
    const bytes = Buffer.alloc(64 * 1024);
    for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 7919 + 13) % 256;
    const binary = run(['inspect', log('binary.bin', bytes)]);
    expect(binary.code).toBe(1);
    expect(binary.stdout).toMatch(/problems:\s+\d+/);
    const folder = run(['inspect', '.']);
    expect(folder.code).toBe(3);
    expect(folder.stderr).toContain('is a directory');
  });

  it('names a missing file and exits 3', () => {
    const result = run(['inspect', 'missing.jsonl']);
    expect(result.code).toBe(3);
    expect(result.stderr).toBe('agent-records: missing.jsonl: no such file. Check the path.\n');
  });

  it('reads a 100 MB log in constant memory', () => {
    const file = path.join(dir, 'huge.jsonl');
    const fd = openSync(file, 'w');
    writeSync(fd, `${META}\n`);
    const line = `{"type":"context.append_message","message":{"role":"tool","content":"${'x'.repeat(1000)}"}}\n`;
    const block = line.repeat(1000);
    let written = 0;
    while (written < 100 * 1024 * 1024) written += writeSync(fd, block);
    closeSync(fd);
    // A reader that loaded the file into one string would need more heap than this allows.
    const result = run(['inspect', '--json', 'huge.jsonl'], ['--max-old-space-size=40']);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const report = JSON.parse(result.stdout);
    expect(report.records).toBe(1 + (written / block.length) * 1000);
  }, 60_000);
});

describe('agent-records validate', () => {
  it('exits 0 for a valid log', () => {
    const result = run(['validate', log('s.jsonl', VALID)]);
    expect(result.code).toBe(0);
    expect(result.stdout).toBe('');
    expect(result.stderr).toContain('valid (4 records)');
  });

  it('lists each problem as file:line:offset', () => {
    const content = `${META}\n${PROMPT}\nnot json\n[1,2]\n{"type":"x","time":"noon"}\n{"type":"metadata","protocol_version":"v2","created_at":1}\n{"type":"y","z`;
    const result = run(['validate', log('bad.jsonl', content)]);
    expect(result.code).toBe(1);
    const offset = (n: number) =>
      content
        .split('\n')
        .slice(0, n - 1)
        .join('\n').length + 1;
    expect(result.stdout.split('\n').filter(Boolean)).toEqual([
      expect.stringMatching(new RegExp(`^bad\\.jsonl:3:${offset(3)}: not valid JSON`)),
      `bad.jsonl:4:${offset(4)}: JSON array is not a record (an object with a string "type")`,
      `bad.jsonl:5:${offset(5)}: record "x" has a "time" that is not a finite number`,
      expect.stringMatching(
        new RegExp(`^bad\\.jsonl:6:${offset(6)}: Invalid protocol version "v2"`),
      ),
      expect.stringMatching(new RegExp(`^bad\\.jsonl:7:${offset(7)}: torn last line: 14 bytes`)),
    ]);
    expect(result.stderr).toContain('agent-records repair bad.jsonl');
  });

  it('refuses a log that does not start with metadata, and an empty one', () => {
    const noMeta = run(['validate', log('nometa.jsonl', `${PROMPT}\n`)]);
    expect(noMeta.code).toBe(1);
    expect(noMeta.stdout).toContain(
      'nometa.jsonl:1:0: first record is of type "turn.prompt", not metadata',
    );
    const empty = run(['validate', log('empty.jsonl', '')]);
    expect(empty.code).toBe(1);
    expect(empty.stdout).toContain('empty.jsonl:0:0: the log is empty');
  });

  it('accepts a last record without a newline (another runtime wrote it)', () => {
    expect(run(['validate', log('nonl.jsonl', VALID.trimEnd())]).code).toBe(0);
  });
});

describe('agent-records cat and tail', () => {
  it('prints time, type and a summary', () => {
    const result = run(['cat', log('s.jsonl', VALID)]);
    expect(result.code).toBe(0);
    expect(result.stdout.split('\n')).toEqual([
      expect.stringMatching(/^-\s+metadata\s+protocol 1\.0, created 2025-11-24T16:00:00\.000Z$/),
      expect.stringMatching(/^2025-11-24T16:00:01\.000Z\s+turn\.prompt\s+Summarise the README$/),
      expect.stringMatching(
        /^2025-11-24T16:00:02\.000Z\s+context\.append_message\s+assistant: It describes a durable log\.$/,
      ),
      expect.stringMatching(/^2025-11-24T16:00:03\.000Z\s+usage\.record\s+m: 10 in, 5 out$/),
      '',
    ]);
  });

  it('filters by type and time, and prints raw JSON lines with --json', () => {
    log('s.jsonl', VALID);
    const typed = run([
      'cat',
      '--json',
      '--type',
      'turn.prompt',
      '--type',
      'usage.record',
      's.jsonl',
    ]);
    expect(typed.stdout).toBe(`${PROMPT}\n${USAGE}\n`);
    const since = run(['cat', '--json', '--since', '2025-11-24T16:00:02Z', 's.jsonl']);
    expect(since.stdout).toBe(`${MESSAGE}\n${USAGE}\n`);
    const badSince = run(['cat', '--since', 'yesterday-ish', 's.jsonl']);
    expect(badSince.code).toBe(2);
    expect(badSince.stderr).toContain('--since "yesterday-ish": not a time');
  });

  it('keeps printing past corrupt lines, reporting them on stderr', () => {
    const result = run(['cat', '--json', log('c.jsonl', `${META}\ngarbage\n${PROMPT}\n`)]);
    expect(result.code).toBe(1);
    expect(result.stdout).toBe(`${META}\n${PROMPT}\n`);
    expect(result.stderr).toMatch(/^c\.jsonl:2:\d+: not valid JSON/);
  });

  it('tail prints the last records and -f follows a live log', async () => {
    const file = path.join(dir, 'live.jsonl');
    writeFileSync(file, VALID);
    const last = run(['tail', '-n', '2', '--json', 'live.jsonl']);
    expect(last.stdout).toBe(`${MESSAGE}\n${USAGE}\n`);

    const child = spawn(process.execPath, [bin, 'tail', '-f', '-n', '1', '--json', 'live.jsonl'], {
      cwd: dir,
    });
    let out = '';
    child.stdout.on('data', (chunk) => {
      out += chunk;
    });
    // Polls with a deadline: a busy machine may take seconds to start the child.
    const waitFor = async (done: () => boolean) => {
      const deadline = Date.now() + 20_000;
      while (!done() && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    };
    try {
      // The last record printed means the child has read the file and is following it; appending
      // before that would let its first read take the new lines as old ones.
      await waitFor(() => out.includes(USAGE));
      appendFileSync(file, '{"type":"turn.steer","turn_id":"t1","con');
      // Gives a poll the chance to see the torn line (it must not print it half).
      await new Promise((resolve) => setTimeout(resolve, 400));
      appendFileSync(file, 'tent":"faster"}\n{"type":"turn.cancel","turn_id":"t1"}\n');
      await waitFor(() => out.includes('turn.cancel'));
    } finally {
      child.kill('SIGTERM');
    }
    expect(out).toBe(
      `${USAGE}\n{"type":"turn.steer","turn_id":"t1","content":"faster"}\n{"type":"turn.cancel","turn_id":"t1"}\n`,
    );
  }, 60_000);
});

describe('agent-records repair', () => {
  it('moves bad lines and a torn tail aside, keeps a backup, never loses a byte', () => {
    const original = `${META}\n${PROMPT}\nnot json\n${USAGE}\n{"type":"torn","a`;
    log('r.jsonl', original);
    const dry = run(['repair', '--dry-run', 'r.jsonl']);
    expect(dry.code).toBe(1);
    expect(dry.stdout).toContain('would move r.jsonl:3:');
    expect(readFileSync(path.join(dir, 'r.jsonl'), 'utf8')).toBe(original);

    const result = run(['repair', 'r.jsonl']);
    expect(result.code).toBe(0);
    expect(readFileSync(path.join(dir, 'r.jsonl'), 'utf8')).toBe(`${META}\n${PROMPT}\n${USAGE}\n`);
    const files = readdirSync(dir);
    const backup = files.find((f) => f.startsWith('r.jsonl.backup-')) as string;
    const quarantine = files.find((f) => f.startsWith('r.jsonl.quarantine-')) as string;
    expect(readFileSync(path.join(dir, backup), 'utf8')).toBe(original);
    expect(readFileSync(path.join(dir, quarantine), 'utf8')).toBe('not json\n{"type":"torn","a\n');
    expect(result.stdout).toContain(`original kept as r.jsonl.backup-`);
    expect(run(['validate', 'r.jsonl']).code).toBe(0);
    expect(run(['repair', 'r.jsonl']).stdout).toContain('nothing to repair');
  });

  it('refuses a log held by a live writer', async () => {
    const file = path.join(dir, 'held.jsonl');
    const writer = new FileSystemAgentRecordPersistence(file);
    writer.append(JSON.parse(META));
    await writer.flush();
    appendFileSync(file, 'garbage\n');
    const result = run(['repair', 'held.jsonl']);
    await writer.close();
    expect(result.code).toBe(4);
    expect(result.stderr).toContain(`locked by a live writer (pid ${process.pid}`);
    expect(readFileSync(file, 'utf8')).toBe(`${META}\ngarbage\n`);
  });
});

describe('agent-records migrate', () => {
  const migrations = `export const migrations = [
  { sourceVersion: '1.0', targetVersion: '1.1', migrateRecord: (r) => (r.type === 'turn.prompt' ? { ...r, content: r.text, text: undefined } : r) },
  { sourceVersion: '1.1', targetVersion: '1.2', migrateRecord: (r) => ({ ...r, migrated: true }) },
];`;
  const old = `${META}\n{"type":"turn.prompt","turn_id":"t1","text":"old field","time":5}\n`;

  it('dry-runs, then migrates and rewrites the log atomically', () => {
    writeFileSync(path.join(dir, 'migrations.mjs'), migrations);
    log('old.jsonl', old);
    const dry = run(['migrate', 'old.jsonl', '--migrations', 'migrations.mjs', '--dry-run']);
    expect(dry.code).toBe(0);
    expect(dry.stdout).toContain('would migrate 1.0 -> 1.2');
    expect(readFileSync(path.join(dir, 'old.jsonl'), 'utf8')).toBe(old);

    const result = run(['migrate', 'old.jsonl', '--migrations', 'migrations.mjs']);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('migrated 1.0 -> 1.2');
    const lines = readFileSync(path.join(dir, 'old.jsonl'), 'utf8')
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(lines).toEqual([
      { type: 'metadata', protocol_version: '1.2', created_at: 1764000000000 },
      { type: 'turn.prompt', turn_id: 't1', content: 'old field', time: 5, migrated: true },
    ]);
    expect(run(['migrate', 'old.jsonl', '--migrations', 'migrations.mjs']).stdout).toContain(
      'nothing to migrate',
    );
  });

  it('names a missing link and a bad module', () => {
    writeFileSync(path.join(dir, 'migrations.mjs'), migrations);
    log('old.jsonl', old);
    const missing = run(['migrate', 'old.jsonl', '--migrations', 'migrations.mjs', '--to', '1.3']);
    expect(missing.code).toBe(5);
    expect(missing.stderr).toContain('No migration from protocol version 1.2');
    expect(readFileSync(path.join(dir, 'old.jsonl'), 'utf8')).toBe(old);
    writeFileSync(path.join(dir, 'empty.mjs'), 'export const nothing = 1;');
    const bad = run(['migrate', 'old.jsonl', '--migrations', 'empty.mjs']);
    expect(bad.code).toBe(5);
    expect(bad.stderr).toContain('exports no migrations');
    const usage = run(['migrate', 'old.jsonl']);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toContain("required option '--migrations <module>'");
  });
});

describe('agent-records help and usage', () => {
  it.each(['inspect', 'cat', 'tail', 'validate', 'repair', 'migrate', 'sessions'])(
    '%s --help exits 0',
    (command) => {
      const result = run([command, '--help']);
      expect(result.code).toBe(0);
      expect(result.stdout).toContain(`Usage: agent-records ${command}`);
    },
  );

  it('exits 2 on an unknown command or option', () => {
    expect(run(['frobnicate']).code).toBe(2);
    expect(run(['inspect', '--bogus', 'x']).code).toBe(2);
    expect(run(['inspect']).code).toBe(2);
    expect(existsSync(path.join(dir, 'x'))).toBe(false);
  });
});

describe('agent-records blobs gc and inspect with blobs', () => {
  it('shows blob counts and collects unreferenced blobs, with a dry run', async () => {
    const root = path.join(dir, 'store');
    mkdirSync(root);
    const png = (seed: number) => {
      const bytes = Buffer.alloc(6000);
      for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 13 + seed) % 256;
      return `data:image/png;base64,${bytes.toString('base64')}`;
    };
    const blobs = { dir: path.join(root, 'blobs') };
    for (const [id, seed] of [
      ['a', 1],
      ['b', 2],
    ] as const) {
      const writer = new FileSystemAgentRecordPersistence(path.join(root, `${id}.jsonl`), {
        blobs,
      });
      writer.append(JSON.parse(META));
      writer.append({ type: 'context.append_message', image: png(seed) } as never);
      await writer.close();
    }
    const inspected = run(['inspect', 'store/a.jsonl']);
    expect(inspected.code).toBe(0);
    expect(inspected.stdout).toMatch(/blobs:\s+1 referenced, 1 present \(5\.9 KiB\)/);

    rmSync(path.join(root, 'b.jsonl'));
    const young = run(['blobs', 'gc', 'store']);
    expect(young.code).toBe(0);
    expect(young.stdout).toMatch(/removed 0 .*1 unreferenced but younger than 1h/);
    const dry = run(['blobs', 'gc', '--min-age', '0s', '--dry-run', 'store/a.jsonl']);
    expect(dry.stdout).toMatch(/^would remove [0-9a-f]{64} \(5\.9 KiB\)$/m);
    expect(readdirSync(path.join(root, 'blobs'))).toHaveLength(2);
    const done = run(['blobs', 'gc', '--min-age', '0s', 'store']);
    expect(done.stdout).toMatch(/1 blob referenced by 1 log; removed 1/);
    expect(readdirSync(path.join(root, 'blobs'))).toHaveLength(1);
    const missing = run(['inspect', '--json', 'store/a.jsonl']);
    expect(JSON.parse(missing.stdout).blobs).toMatchObject({
      referenced: 1,
      present: 1,
      missing: 0,
    });
    expect(run(['blobs', 'gc', '--min-age', 'soon', 'store']).code).toBe(2);
  });
});
