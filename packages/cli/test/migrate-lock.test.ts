import { spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { startAgent } from './agent.js';
import { bin, META, PROMPT, tempDir, writeLog } from './helpers.js';

const dir = tempDir('cli-migrate-lock-');

/**
 * Migrations whose first `migrateRecord` (inside migrate's replay: after it read the log, before
 * it rewrites it) creates `go` and waits, synchronously, until `done` exists.
 */
function pausingMigrations(folder: string): string {
  const file = path.join(folder, 'pausing-migrations.mjs');
  writeFileSync(
    file,
    `import { existsSync, writeFileSync } from 'node:fs';
const go = ${JSON.stringify(path.join(folder, 'go'))};
const done = ${JSON.stringify(path.join(folder, 'done'))};
let paused = false;
export const migrations = [{ sourceVersion: '1.0', targetVersion: '1.1', migrateRecord: (r) => {
  if (!paused) {
    paused = true;
    writeFileSync(go, '');
    const deadline = Date.now() + 20000;
    while (!existsSync(done) && Date.now() < deadline) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 10);
  }
  return { ...r, migrated: true };
} }];
`,
  );
  return file;
}

async function until(check: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe('agent-records migrate holds the writer lock from before it reads the log', () => {
  it('an agent that writes and closes between migrate reading and rewriting the log is refused, never lost', async () => {
    const file = writeLog(dir.path, 'live.jsonl', `${META}\n${PROMPT}\n`);
    const agent = startAgent(file);
    try {
      expect((await agent.next()).replayed).toBe(2);
      const migrate = spawn(
        process.execPath,
        [bin, 'migrate', file, '--migrations', pausingMigrations(dir.path)],
        { stdio: ['ignore', 'pipe', 'pipe'] },
      );
      let output = '';
      migrate.stdout.on('data', (text) => (output += text));
      migrate.stderr.on('data', (text) => (output += text));
      const exited = new Promise<number | null>((resolve) => migrate.on('exit', resolve));
      await until(() => existsSync(path.join(dir.path, 'go')), 'migrate to read the log');
      // Migrate has read the log and not yet rewritten it: the agent writes, then closes.
      const during = await agent.say('during-migrate');
      const closed = await agent.say('close');
      writeFileSync(path.join(dir.path, 'done'), '');
      const code = await exited;

      const log = readFileSync(file, 'utf8');
      if (during.flushed) expect(log).toContain('"id":"during-migrate"');
      else expect(during.code).toBe('RECORDS_LOCKED');
      // Migrate held the lock: the agent was refused, and the migration went through.
      expect(during).toMatchObject({ flushed: false, code: 'RECORDS_LOCKED' });
      expect(closed.closed).toBe('RECORDS_LOCKED');
      expect(code, output).toBe(0);
      expect(log).toContain('"migrated":true');
      expect(existsSync(`${file}.lock`)).toBe(false);
    } finally {
      agent.kill();
    }
  });
});
