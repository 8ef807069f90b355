import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { AgentRecordEnvelope } from '@agent-records/types';
import { describe, expect, it } from 'vitest';
import { useTempDir } from '../test/temp-dir.js';
import { FileSystemAgentRecordPersistence } from './fs-persistence.js';

type Rec = AgentRecordEnvelope & { n: number };

const temp = useTempDir('fs-drain-');

function linesOf(file: string): number[] {
  let text = '';
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return [];
  }
  return text
    .split('\n')
    .filter((line) => line.length > 0)
    .map((line) => (JSON.parse(line) as Rec).n);
}

/** Polls the file until it holds `expected` or the deadline passes; returns what it holds. */
async function waitForLines(file: string, expected: number[], deadlineMs = 10_000) {
  const deadline = Date.now() + deadlineMs;
  let seen = linesOf(file);
  while (seen.length < expected.length && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 10));
    seen = linesOf(file);
  }
  return seen;
}

describe('background writes always drain (file)', () => {
  it('writes a record appended right after an awaited flush without another flush', async () => {
    // 20 rounds: the lost record depended on where the writer run was when the flush resolved.
    for (let round = 0; round < 20; round++) {
      const file = path.join(temp.dir, `drain-${round}.jsonl`);
      const persistence = new FileSystemAgentRecordPersistence<Rec>(file);
      persistence.append({ type: 'test', n: 1 });
      await persistence.flush();
      persistence.append({ type: 'test', n: 2 });
      expect(await waitForLines(file, [1, 2])).toEqual([1, 2]);
      await persistence.close();
    }
  });

  it('writes records appended while a batch is being written, nobody flushing', async () => {
    const file = path.join(temp.dir, 'busy.jsonl');
    const persistence = new FileSystemAgentRecordPersistence<Rec>(file);
    const expected: number[] = [];
    for (let n = 0; n < 50; n++) {
      persistence.append({ type: 'test', n });
      expected.push(n);
      // Let the writer start a batch now and then, so later appends land mid-run.
      if (n % 10 === 0) await new Promise((resolve) => setImmediate(resolve));
    }
    expect(await waitForLines(file, expected)).toEqual(expected);
    await persistence.close();
  });
});
