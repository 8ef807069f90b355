import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdirSync, utimesSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { FileSystemAgentRecordStore } from '@agent-records/fs-persistence';
import type { AgentRecordEnvelope } from '@agent-records/types';
import { afterEach, describe, expect, it } from 'vitest';
import { runSessions } from '../src/commands/sessions.js';
import { bin, captureIo, META, runCli, tempDir, VALID } from './helpers.js';

const dir = tempDir('cli-sessions-');
const DAY = 86_400_000;
const lockHolder = fileURLToPath(
  new URL('../../fs-persistence/fixtures/lock-holder.mjs', import.meta.url),
);
let holders: ChildProcess[] = [];
afterEach(() => {
  for (const child of holders) child.kill('SIGKILL');
  holders = [];
});

function run(args: string[]) {
  const result = spawnSync(process.execPath, [bin, ...args], { cwd: dir.path, encoding: 'utf8' });
  return Object.assign(result, { code: result.status });
}

/** A session written through the fs backend, its last activity set to `daysAgo` days ago. */
async function writeSession(
  root: string,
  id: string,
  daysAgo: number,
  records = 1,
  title?: string,
) {
  const store = new FileSystemAgentRecordStore(root);
  const persistence = store.open<AgentRecordEnvelope>(id);
  persistence.append(JSON.parse(META));
  for (let i = 1; i < records; i++) persistence.append({ type: 'note', time: i });
  if (title !== undefined) persistence.setTitle?.(title);
  await persistence.close();
  const when = new Date(Date.now() - daysAgo * DAY);
  utimesSync(store.fileOf(id), when, when);
}

/** Terminal columns, counted independently of the CLI: CJK and emoji take two. */
const columns = (text: string) =>
  [...text].reduce(
    (n, ch) =>
      n +
      (/[\u1100-\u115f\u2e80-\ua4cf\uac00-\ud7a3\uff00-\uff60\u{1F300}-\u{1FAFF}]/u.test(ch)
        ? 2
        : 1),
    0,
  );

/** A real writer holding the session's lock; resolves once it holds it. */
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

describe('agent-records sessions', () => {
  it('lists a store (table, JSON, an absent root)', async () => {
    const root = path.join(dir.path, 'root');
    mkdirSync(root);
    writeFileSync(path.join(root, 'alpha.jsonl'), VALID);
    writeFileSync(path.join(root, 'beta.jsonl'), `${META}\n`);
    utimesSync(
      path.join(root, 'alpha.jsonl'),
      new Date(Date.now() - DAY),
      new Date(Date.now() - DAY),
    );
    const table = run(['sessions', 'root']);
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(/^alpha\s+1d ago\s+4\s/m);
    expect(table.stdout).toMatch(/^beta\s+(just now|\S+ ago)\s+1\s/m);
    const asJson = JSON.parse(run(['sessions', '--json', 'root']).stdout);
    expect(asJson.map((s: { id: string }) => s.id)).toEqual(['beta', 'alpha']);
    expect(run(['sessions', 'nowhere']).stdout).toContain('no sessions');
  });

  it('labels sizes in binary units (KiB), not KB', async () => {
    const root = path.join(dir.path, 'root');
    mkdirSync(root);
    writeFileSync(path.join(root, 'alpha.jsonl'), `${META}\n${'{"type":"x"}\n'.repeat(200)}`);
    const result = await runCli(['sessions', root]);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^alpha\s+(just now|\S+ ago)\s+201\s+2\.6 KiB/m);
  });

  it('aligns columns by display width: CJK and emoji ids take two columns a character', async () => {
    const root = path.join(dir.path, 'root');
    await writeSession(root, 'ab', 1);
    await writeSession(root, '会話ログ', 2);
    await writeSession(root, '👍ok', 3);
    await writeSession(root, '한국어-세션', 4);
    const result = await runCli(['sessions', root]);
    expect(result.code).toBe(0);
    const lines = result.stdout.trimEnd().split('\n');
    expect(lines).toHaveLength(5);
    // Where the second column (updated) starts, in terminal columns: the same on every line.
    const starts = lines.map((line) => {
      const id = /^(.*?\S)\s{2,}/u.exec(line)?.[0] ?? '';
      return columns(id);
    });
    expect(new Set(starts).size).toBe(1);
    expect(starts[0]).toBe(columns('한국어-세션') + 2);
  });

  it('shows a live lock by pid and a stale one (its writer killed) as stale, not hidden', async () => {
    const root = path.join(dir.path, 'root');
    await writeSession(root, 'quiet', 1);
    const log = new FileSystemAgentRecordStore(root).fileOf('busy');
    const holder = await startHolder(log);
    const live = await runCli(['sessions', root]);
    expect(live.stdout).toMatch(new RegExp(`^busy\\s.*\\spid ${holder.pid}\\s+-$`, 'm'));
    expect(live.stdout).toMatch(/^quiet\s.*\s-\s*/m);
    const exited = new Promise((resolve) => holder.on('exit', resolve));
    holder.kill('SIGKILL');
    await exited;
    const stale = await runCli(['sessions', root]);
    expect(stale.stdout).toMatch(
      new RegExp(`^busy\\s.*\\sstale \\(pid ${holder.pid} gone\\)`, 'm'),
    );
    const asJson = JSON.parse((await runCli(['sessions', '--json', root])).stdout);
    expect(asJson[0]).toMatchObject({ id: 'busy', lock: { pid: holder.pid, state: 'dead' } });
  });

  it('shows a lock file that is not a lock as such, pointing at unlock', async () => {
    const root = path.join(dir.path, 'root');
    await writeSession(root, 'odd', 1);
    writeFileSync(`${new FileSystemAgentRecordStore(root).fileOf('odd')}.lock`, 'garbage');
    const result = await runCli(['sessions', root]);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^odd\s.*\snot a lock file \(see unlock\)\s+-$/m);
  });

  it('lists newest activity first and pages with --limit and --after', async () => {
    const root = path.join(dir.path, 'root');
    for (const [id, days] of [
      ['e', 5],
      ['a', 1],
      ['c', 3],
      ['b', 2],
      ['d', 4],
    ] as const) {
      await writeSession(root, id, days);
    }
    const ids = (stdout: string) => JSON.parse(stdout).map((s: { id: string }) => s.id);
    const all = await runCli(['sessions', '--json', root]);
    expect(ids(all.stdout)).toEqual(['a', 'b', 'c', 'd', 'e']);
    expect(all.stderr).toBe('');
    const first = await runCli(['sessions', '--limit', '2', root]);
    expect(
      first.stdout
        .split('\n')
        .slice(1, 3)
        .map((line) => line.split(' ')[0]),
    ).toEqual(['a', 'b']);
    expect(first.stderr).toBe(
      `more sessions follow: agent-records sessions ${root} --limit 2 --after b\n`,
    );
    const second = await runCli(['sessions', '--json', '--limit', '2', '--after', 'b', root]);
    expect(ids(second.stdout)).toEqual(['c', 'd']);
    const last = await runCli(['sessions', '--json', '--limit', '2', '--after', 'd', root]);
    expect(ids(last.stdout)).toEqual(['e']);
    expect(last.stderr).toBe(''); // the last page: no hint
  });

  it('refuses a bad --limit and an --after naming no session (exit 2)', async () => {
    const root = path.join(dir.path, 'root');
    await writeSession(root, 'a', 1);
    for (const limit of ['0', '-1', 'ten', '1.5']) {
      const bad = await runCli(['sessions', '--limit', limit, root]);
      expect(bad.code).toBe(2);
      expect(bad.stderr).toContain('--limit must be a whole number of sessions');
    }
    const unknown = await runCli(['sessions', '--after', 'zz', root]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('--after "zz"');
    expect(unknown.stderr).toContain('has no such session');
  });

  it('shows records and title from the summaries the writer keeps, a long title cut by columns', async () => {
    const root = path.join(dir.path, 'root');
    await writeSession(root, 'titled', 1, 3, 'Fix the flaky\nlogin test');
    await writeSession(root, 'wide', 2, 1, '会'.repeat(40));
    await writeSession(root, 'plain', 3, 2);
    const result = await runCli(['sessions', root]);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^id\s+updated\s+records\s+size\s+lock\s+title$/m);
    expect(result.stdout).toMatch(/^titled\s+1d ago\s+3\s+\d+ B\s+-\s+Fix the flaky login test$/m);
    expect(result.stdout).toMatch(new RegExp(`^wide\\s.*\\s-\\s+${'会'.repeat(29)}…$`, 'm'));
    expect(result.stdout).toMatch(/^plain\s+3d ago\s+2\s+\d+ B\s+-\s+-$/m);
    const asJson = JSON.parse((await runCli(['sessions', '--json', root])).stdout);
    expect(asJson[0]).toMatchObject({
      id: 'titled',
      records: 3,
      title: 'Fix the flaky\nlogin test',
      createdAt: 1764000000000,
      lock: null,
    });
    expect(typeof asJson[0].updatedAt).toBe('number');
    expect(typeof asJson[0].bytes).toBe('number');
  });

  it('never prints a control character of a title to the terminal', async () => {
    const root = path.join(dir.path, 'root');
    await writeSession(root, 'sneaky', 1, 1, 'red \x1b[31malert\x07 done');
    const result = await runCli(['sessions', root]);
    expect(result.stdout).not.toMatch(/(?!\n)\p{Cc}/u);
    expect(result.stdout).toMatch(/^sneaky\s.*\sred \ufffd\[31malert\ufffd done$/m);
    const asJson = JSON.parse((await runCli(['sessions', '--json', root])).stdout);
    expect(asJson[0].title).toBe('red \x1b[31malert\x07 done'); // JSON keeps it, escaped
  });

  it('never passes a bidirectional control of a title to the terminal (it would reorder the line)', async () => {
    const root = path.join(dir.path, 'root');
    await writeSession(root, 'bidi', 1, 1, 'invoice \u202eexe.pdf \u2066x\u2069 \u200f');
    const result = await runCli(['sessions', root]);
    expect(result.stdout).not.toMatch(/[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/u);
    expect(result.stdout).toMatch(/^bidi\s.*\sinvoice \ufffdexe\.pdf \ufffdx\ufffd \ufffd$/m);
  });

  it('documents --limit and --after in its help', async () => {
    const help = await runCli(['sessions', '--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('--limit <count>');
    expect(help.stdout).toContain('--after <id>');
    expect(help.stdout).toContain('newest activity first');
  });

  it('shows an age relative to now, and the ISO time beyond 30 days', async () => {
    const root = path.join(dir.path, 'root');
    await writeSession(root, 'recent', 2);
    await writeSession(root, 'old', 40);
    const captured = captureIo();
    expect(await runSessions({ root }, captured.io)).toBe(0);
    expect(captured.stdout).toMatch(/^recent\s+2d ago\s/m);
    expect(captured.stdout).toMatch(/^old\s+\d{4}-\d\d-\d\dT\d\d:\d\dZ\s/m);
  });
});
