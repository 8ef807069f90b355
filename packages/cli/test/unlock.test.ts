import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

const bin = fileURLToPath(new URL('../dist/bin.js', import.meta.url));
const lockHolder = fileURLToPath(
  new URL('../../fs-persistence/fixtures/lock-holder.mjs', import.meta.url),
);
let dir: string;
let holders: ChildProcess[] = [];
beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'cli-unlock-'));
});
afterEach(() => {
  for (const child of holders) child.kill('SIGKILL');
  holders = [];
  rmSync(dir, { recursive: true, force: true });
});

function unlock(...args: string[]) {
  const result = spawnSync(process.execPath, [bin, 'unlock', ...args], {
    cwd: dir,
    encoding: 'utf8',
  });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** A real writer process holding the lock of `log`; resolves once it has written its record. */
async function startHolder(log: string): Promise<ChildProcess> {
  const child = spawn(process.execPath, [lockHolder, log], { stdio: ['ignore', 'pipe', 'pipe'] });
  holders.push(child);
  let stderr = '';
  child.stderr?.on('data', (text) => {
    stderr += text;
  });
  await new Promise<void>((resolve, reject) => {
    child.stdout?.on('data', (text: Buffer) => {
      if (text.toString().includes('locked')) resolve();
    });
    child.on('exit', (code) => reject(new Error(`lock holder exited (${code}): ${stderr}`)));
  });
  return child;
}

async function kill(child: ChildProcess): Promise<void> {
  const exited = new Promise((resolve) => child.on('exit', resolve));
  child.kill('SIGKILL');
  await exited;
}

function writeLock(log: string, content: unknown): string {
  const lockFile = `${log}.lock`;
  writeFileSync(lockFile, typeof content === 'string' ? content : JSON.stringify(content));
  return lockFile;
}

describe('agent-records unlock', () => {
  it("refuses to remove a live writer's lock, even with --force, and removes it once the writer is dead", async () => {
    const log = path.join(dir, 'held.jsonl');
    const child = await startHolder(log);

    for (const args of [[log], ['--force', log]]) {
      const refused = unlock(...args);
      expect(refused.code).toBe(4);
      expect(refused.stdout).toContain(`process ${child.pid} on host ${hostname()}`);
      expect(refused.stdout).toContain('running on this host');
      expect(refused.stderr).toMatch(/was not removed: its writer is alive/);
      expect(existsSync(`${log}.lock`)).toBe(true);
    }

    await kill(child);
    const removed = unlock(log);
    expect(removed.stdout).toContain('no longer running');
    expect(removed.stdout).toContain(`removed ${log}.lock`);
    expect(removed.code).toBe(0);
    expect(existsSync(`${log}.lock`)).toBe(false);
    expect(readFileSync(log, 'utf8')).toBe(`{"type":"holder","pid":${child.pid}}\n`);
  }, 60_000);

  it("removes another host's lock only with --force, saying whose it is", () => {
    const log = path.join(dir, 'foreign.jsonl');
    const lockFile = writeLock(log, {
      pid: 4242,
      token: randomUUID(),
      host: 'build-box-7',
      acquired_at: Date.UTC(2026, 0, 2, 3, 4, 5),
    });
    const refused = unlock(log);
    expect(refused.code).toBe(4);
    expect(refused.stdout).toContain(
      'process 4242 on host build-box-7 since 2026-01-02T03:04:05.000Z',
    );
    expect(refused.stderr).toContain(`agent-records unlock --force ${log}`);
    expect(existsSync(lockFile)).toBe(true);

    const forced = unlock('--force', log);
    expect(forced.code).toBe(0);
    expect(forced.stdout).toContain(`removed ${lockFile}`);
    expect(existsSync(lockFile)).toBe(false);
  });

  it('removes a lock file that is not a lock only with --force', () => {
    const log = path.join(dir, 'garbage.jsonl');
    const lockFile = writeLock(log, 'null');
    const refused = unlock(log);
    expect(refused.code).toBe(4);
    expect(refused.stdout).toContain(`${lockFile} is not a lock file`);
    expect(existsSync(lockFile)).toBe(true);
    expect(unlock('--force', log).code).toBe(0);
    expect(existsSync(lockFile)).toBe(false);
  });

  it('says so when the log is not locked', () => {
    const result = unlock(path.join(dir, 'free.jsonl'));
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('not locked');
  });
});
