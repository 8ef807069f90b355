import { describe, expect, it } from 'vitest';
import { META, PROMPT, runCli, tempDir, USAGE, VALID, writeLog } from './helpers.js';

const dir = tempDir('cli-stats-');

describe('agent-records stats', () => {
  it('stats gives records and bytes per type, time span, largest records with line numbers, average size and rate', async () => {
    const big = `{"type":"tool.output","time":1764000061000,"data":"${'x'.repeat(5000)}"}`;
    const content = `${VALID}${big}\n`;
    const file = writeLog(dir.path, 's.jsonl', content);
    const result = await runCli(['stats', '--json', file]);
    expect(result.code).toBe(0);
    const stats = JSON.parse(result.stdout);
    expect(stats).toMatchObject({
      records: 5,
      bytes: Buffer.byteLength(content),
      firstTime: 1764000001000,
      lastTime: 1764000061000,
      spanMs: 60_000,
      averageBytes: Math.round(Buffer.byteLength(content) / 5),
      perMinute: 5,
      problems: 0,
    });
    expect(stats.byType['turn.prompt']).toEqual({ count: 1, bytes: PROMPT.length + 1 });
    expect(stats.largest[0]).toEqual({ line: 5, type: 'tool.output', bytes: big.length + 1 });
    expect(stats.largest).toHaveLength(5);

    const text = await runCli(['stats', file]);
    expect(text.stdout).toContain('records:      5 records');
    expect(text.stdout).toContain('(1m)');
    expect(text.stdout).toContain('5 records per minute');
    expect(text.stdout).toMatch(/tool\.output\s+1 record\s+4\.9 KiB/);
    expect(text.stdout).toContain(`${file}:5  tool.output  4.9 KiB`);
  });

  it('reads standard input for -, and counts lines that are not records apart (exit 1)', async () => {
    const result = await runCli(['stats', '-'], { stdin: `${META}\nnot json\n${USAGE}\n` });
    expect(result.code).toBe(1);
    expect(result.stdout).toContain('records:      2 records');
    expect(result.stdout).toContain('not records:  1 line');
    const one = await runCli(['stats', '-'], { stdin: `${META}\n` });
    expect(one.code).toBe(0);
    expect(one.stdout).toContain('records:      1 record (');
    expect(one.stdout).toContain('rate:         -');
  });
});
