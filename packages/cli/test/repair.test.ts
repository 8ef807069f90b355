import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { runRepair } from '../src/commands/repair.js';
import { captureIo, META, PROMPT, tempDir, writeLog } from './helpers.js';

const dir = tempDir('cli-repair-');

describe('agent-records repair', () => {
  it('runs in-process: moves a bad line aside, says where the backup and the quarantine are', async () => {
    const original = `${META}\nnot json\n${PROMPT}\n`;
    const file = writeLog(dir.path, 'r.jsonl', original);
    const dry = captureIo();
    expect(await runRepair({ log: file, dryRun: true }, dry.io)).toBe(1);
    expect(dry.stdout).toContain('dry run: 2 lines would stay; nothing was changed');
    const captured = captureIo();
    expect(await runRepair({ log: file }, captured.io)).toBe(0);
    const backup = /original kept as (.+)$/m.exec(captured.stdout)?.[1] as string;
    const quarantine = /moved lines are in (.+)$/m.exec(captured.stdout)?.[1] as string;
    expect(readFileSync(backup, 'utf8')).toBe(original);
    expect(readFileSync(quarantine, 'utf8')).toBe('not json\n');
    expect(readFileSync(file, 'utf8')).toBe(`${META}\n${PROMPT}\n`);
    const again = captureIo();
    expect(await runRepair({ log: file }, again.io)).toBe(0);
    expect(again.stdout).toBe(`${file}: nothing to repair (2 records)\n`);
  });
});
