import { spawnSync } from 'node:child_process';
import {
  existsSync,
  lstatSync,
  mkdirSync,
  readFileSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { hostname } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { repairLog, repairTestHooks } from '../src/commands/repair.js';
import { type Outcome, startAgent } from './agent.js';
import { META, PROMPT, runCli, tempDir, writeLog } from './helpers.js';

const dir = tempDir('cli-repair-lock-');
afterEach(() => {
  repairTestHooks.beforeReplace = undefined;
});

describe('agent-records repair holds the writer lock', () => {
  it('an agent that resumed the log and writes while repair runs is refused (RecordsLockedError), never lost', async () => {
    // A crash left a torn tail; the agent resumes anyway (replay skips it), then the user repairs.
    const file = writeLog(dir.path, 'live.jsonl', `${META}\n${PROMPT}\n{"type":"item","to`);
    const agent = startAgent(file);
    try {
      expect((await agent.next()).replayed).toBe(2);
      const outcomes: Outcome[] = [];
      let lockedDuring = false;
      repairTestHooks.beforeReplace = async () => {
        lockedDuring = existsSync(`${file}.lock`);
        outcomes.push(await agent.say('during-repair'));
      };
      const result = await repairLog(file);
      expect(result.moved.map((p) => p.problem)).toEqual([expect.stringMatching(/torn/)]);
      outcomes.push(await agent.say('after-repair'));
      const closed = await agent.say('close');

      const log = readFileSync(file, 'utf8');
      for (const outcome of outcomes) {
        // A flush that resolved means the record is in the log; otherwise it was refused loudly.
        if (outcome.flushed) expect(log).toContain(`"id":"${outcome.id}"`);
        else expect(outcome.code).toBe('RECORDS_LOCKED');
      }
      // Repair held the lock while the agent tried: its first write was refused.
      expect(lockedDuring).toBe(true);
      expect(outcomes[0]).toMatchObject({ flushed: false, code: 'RECORDS_LOCKED' });
      expect(closed.closed).toBe('RECORDS_LOCKED');
      // Repair released its lock; the log is the repaired one.
      expect(existsSync(`${file}.lock`)).toBe(false);
      expect(log).toBe(`${META}\n${PROMPT}\n`);
    } finally {
      agent.kill();
    }
  });

  it('takes over a stale lock (its process gone) as a writer does, says so, and removes it after', async () => {
    const file = writeLog(dir.path, 'stale.jsonl', `${META}\nnot json\n${PROMPT}\n`);
    const dead = spawnSync(process.execPath, ['-e', '0']).pid as number;
    writeFileSync(
      `${file}.lock`,
      JSON.stringify({ pid: dead, token: 'stale-token', host: hostname(), acquired_at: 1 }),
    );
    let lockedBy: number | undefined;
    repairTestHooks.beforeReplace = async () => {
      lockedBy = JSON.parse(readFileSync(`${file}.lock`, 'utf8')).pid;
    };
    const result = await runCli(['repair', file]);
    expect(result.code).toBe(0);
    expect(lockedBy).toBe(process.pid);
    expect(result.stdout).toContain(`took over the stale lock of process ${dead}`);
    expect(existsSync(`${file}.lock`)).toBe(false);
    expect(readFileSync(file, 'utf8')).toBe(`${META}\n${PROMPT}\n`);
  });

  it('refuses a lock file that is not a lock (exit 4, says how to clear it) and leaves the log', async () => {
    const original = `${META}\nnot json\n`;
    const file = writeLog(dir.path, 'odd.jsonl', original);
    writeFileSync(`${file}.lock`, 'garbage');
    const result = await runCli(['repair', file]);
    expect(result.code).toBe(4);
    expect(result.stderr).toContain('agent-records unlock --force');
    expect(readFileSync(file, 'utf8')).toBe(original);
  });

  it('takes no lock for a dry run or a log with nothing to repair', async () => {
    const file = writeLog(dir.path, 'fine.jsonl', `${META}\n${PROMPT}\n`);
    const agent = startAgent(file);
    try {
      await agent.next();
      expect((await runCli(['repair', file])).code).toBe(0);
      expect((await runCli(['repair', '--dry-run', file])).code).toBe(0);
      expect(await agent.say('after')).toMatchObject({ flushed: true });
    } finally {
      agent.kill();
    }
  });

  it('repairs the file a symlinked log points to, keeps the symlink, and locks both names', async () => {
    const real = writeLog(dir.path, 'real.jsonl', `${META}\n${PROMPT}\n{"type":"torn`);
    mkdirSync(path.join(dir.path, 'logs'));
    const link = path.join(dir.path, 'logs', 'session.jsonl');
    symlinkSync(real, link);
    // An agent that resumed the log by its real name writes while repair (given the link) runs.
    const agent = startAgent(real);
    try {
      await agent.next();
      let during: Outcome | undefined;
      const locks: boolean[] = [];
      repairTestHooks.beforeReplace = async () => {
        locks.push(existsSync(`${link}.lock`), existsSync(`${real}.lock`));
        during = await agent.say('during');
      };
      const result = await runCli(['repair', link]);
      expect(result.code, result.stderr).toBe(0);
      expect(locks).toEqual([true, true]);
      expect(during).toMatchObject({ flushed: false, code: 'RECORDS_LOCKED' });
      expect(lstatSync(link).isSymbolicLink()).toBe(true);
      expect(readFileSync(real, 'utf8')).toBe(`${META}\n${PROMPT}\n`);
      expect(existsSync(`${link}.lock`) || existsSync(`${real}.lock`)).toBe(false);
    } finally {
      agent.kill();
    }
  });
});
