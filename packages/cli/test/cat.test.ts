import { describe, expect, it } from 'vitest';
import { parseSince } from '../src/commands/cat.js';
import { MESSAGE, META, PROMPT, runCli, tempDir, USAGE, VALID, writeLog } from './helpers.js';

const dir = tempDir('cli-cat-');

describe('agent-records cat', () => {
  it('warns on stderr about a --type the log never holds, suggesting the closest type, and exits 0', async () => {
    const file = writeLog(dir.path, 's.jsonl', VALID);
    const result = await runCli(['cat', '--type', 'turn.promt', file]);
    expect(result.code).toBe(0);
    expect(result.stdout).toBe('');
    expect(result.stderr).toContain(
      `${file} holds no record of type "turn.promt"; did you mean "turn.prompt"?`,
    );
    // A type that is there is not warned about, even next to one that is not.
    const mixed = await runCli(['cat', '--json', '--type', 'turn.prompt', '--type', 'nope', file]);
    expect(mixed.stdout).toBe(`${PROMPT}\n`);
    expect(mixed.stderr).toContain('no record of type "nope" (types in the log:');
    expect(mixed.stderr).not.toContain('"turn.prompt";');
  });

  it('--since takes the same durations as blobs gc --min-age (1h30m), through the one parser', () => {
    const now = Date.UTC(2026, 0, 1);
    expect(parseSince('1h30m', now)).toBe(now - 90 * 60_000);
    expect(parseSince('250ms', now)).toBe(now - 250);
    expect(parseSince('15m', now)).toBe(now - 15 * 60_000);
    // A bare number stays an epoch-ms time for --since, as before.
    expect(parseSince('1764000002000', now)).toBe(1764000002000);
  });

  it('--until leaves out later records and --limit stops after N', async () => {
    const file = writeLog(dir.path, 's.jsonl', VALID);
    const until = await runCli(['cat', '--json', '--until', '2025-11-24T16:00:02Z', file]);
    expect(until.stdout).toBe(`${PROMPT}\n${MESSAGE}\n`);
    const limited = await runCli(['cat', '--json', '--limit', '2', file]);
    expect(limited.stdout).toBe(`${META}\n${PROMPT}\n`);
    const both = await runCli(['cat', '--json', '--since', '1764000002000', '--limit', '1', file]);
    expect(both.stdout).toBe(`${MESSAGE}\n`);
    const bad = await runCli(['cat', '--limit', 'many', file]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--limit must be a whole number');
    const badUntil = await runCli(['cat', '--until', 'later', file]);
    expect(badUntil.code).toBe(2);
    expect(badUntil.stderr).toContain('--until "later": not a time');
  });

  it('reads standard input for -', async () => {
    const result = await runCli(['cat', '--json', '--type', 'usage.record', '-'], {
      stdin: VALID,
    });
    expect(result.code).toBe(0);
    expect(result.stdout).toBe(`${USAGE}\n`);
  });

  it('colours only on a terminal and never with NO_COLOR', async () => {
    const file = writeLog(dir.path, 's.jsonl', VALID);
    expect((await runCli(['cat', file], { isTTY: true })).stdout).toContain('\x1b[');
    const noColor = await runCli(['cat', file], { isTTY: true, env: { NO_COLOR: '1' } });
    expect(noColor.stdout).not.toContain('\x1b[');
    expect((await runCli(['cat', file])).stdout).not.toContain('\x1b[');
  });
});
