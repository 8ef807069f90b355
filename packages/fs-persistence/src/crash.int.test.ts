import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { AgentRecordEnvelope } from '@agent-records/types';
import { afterAll, describe, expect, it } from 'vitest';
import { FULL, randomDelay, startChild } from '../test/child.js';
import { FileSystemAgentRecordPersistence } from './fs-persistence.js';

type Rec = AgentRecordEnvelope & { n: number };

const KILLS = Number(process.env.AGENT_RECORDS_CRASH_KILLS ?? (FULL ? 250 : 30));
const REWRITE_KILLS = Number(process.env.AGENT_RECORDS_REWRITE_KILLS ?? (FULL ? 200 : 20));

const dir = mkdtempSync(path.join(tmpdir(), 'crash-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function readNumbers(file: string): Promise<number[]> {
  const reader = new FileSystemAgentRecordPersistence<Rec>(file);
  const numbers: number[] = [];
  for await (const record of reader.read()) numbers.push(record.n);
  return numbers;
}

describe('crash safety under SIGKILL', () => {
  it(`keeps every flushed record, in order, without duplicates, across ${KILLS} kills`, async () => {
    const file = path.join(dir, 'append.jsonl');
    let tornTails = 0;
    let maxReportedEver = -1;
    for (let kill = 0; kill < KILLS; kill++) {
      const before = await readNumbers(file);
      const child = startChild('crash-writer.mjs', [file, String(before.length)]);
      await child.waitForLines(1);
      await randomDelay(25);
      await child.kill();
      const reported = child.lines.map(Number);
      const maxReported = Math.max(...reported);
      maxReportedEver = Math.max(maxReportedEver, maxReported);

      const after = await readNumbers(file);
      // Contiguous 0..k: nothing lost, reordered or written twice.
      for (let i = 0; i < after.length; i++) {
        if (after[i] !== i) throw new Error(`kill ${kill}: record ${i} is n=${after[i]}`);
      }
      if (after.length - 1 < maxReported) {
        throw new Error(
          `kill ${kill}: flushed up to ${maxReported}, log ends at ${after.length - 1}`,
        );
      }
      const bytes = readFileSync(file);
      if (bytes.length > 0 && bytes[bytes.length - 1] !== 0x0a) tornTails++;
    }
    const sideFiles = readdirSync(dir).filter((name) => name.startsWith('append.jsonl.torn-'));
    console.log(
      `crash test: ${KILLS} SIGKILLs, ${maxReportedEver + 1}+ records flushed, ` +
        `${tornTails} kills left a torn or unterminated tail, ${sideFiles.length} torn tails kept aside`,
    );
    // The last writer was killed too: a final clean writer must append after whatever it left.
    const final = await readNumbers(file);
    const writer = new FileSystemAgentRecordPersistence<Rec>(file, { onError: () => {} });
    writer.append({ type: 'crash.test', n: final.length });
    await writer.close();
    expect(await readNumbers(file)).toEqual(Array.from({ length: final.length + 1 }, (_, i) => i));
  }, 600_000);

  it(`a rewrite killed at random moments leaves the whole old log or the whole new one (${REWRITE_KILLS} kills)`, async () => {
    const file = path.join(dir, 'rewrite.jsonl');
    const OLD = 3000;
    const NEW = 20000;
    const outcomes = { old: 0, new: 0 };
    // Time one unkilled rewrite to spread the kills over it.
    const timing = startChild('rewrite-writer.mjs', [path.join(dir, 'timing.jsonl'), String(NEW)]);
    await timing.waitForLines(1);
    const started = Date.now();
    await timing.exited;
    const span = Math.max(5, Date.now() - started);

    for (let kill = 0; kill < REWRITE_KILLS; kill++) {
      rmSync(file, { force: true });
      const seed = new FileSystemAgentRecordPersistence<AgentRecordEnvelope>(file);
      for (let n = 0; n < OLD; n++) seed.append({ type: 'old', n } as AgentRecordEnvelope);
      await seed.close();

      const child = startChild('rewrite-writer.mjs', [file, String(NEW)]);
      await child.waitForLines(1);
      await randomDelay(span * 1.2);
      await child.kill();

      const reader = new FileSystemAgentRecordPersistence<Rec>(file);
      const types = new Set<string>();
      let count = 0;
      let ordered = true;
      for await (const record of reader.read()) {
        types.add(record.type);
        if (record.n !== count) ordered = false;
        count++;
      }
      const kind = [...types].join(',');
      const whole = (kind === 'old' && count === OLD) || (kind === 'new' && count === NEW);
      if (!whole || !ordered) {
        throw new Error(`kill ${kill}: log holds ${count} records of ${kind || 'nothing'}`);
      }
      outcomes[kind as 'old' | 'new']++;
    }
    console.log(
      `rewrite crash test: ${REWRITE_KILLS} kills, old log ${outcomes.old}x, new log ${outcomes.new}x`,
    );
    expect(outcomes.old + outcomes.new).toBe(REWRITE_KILLS);
  }, 600_000);
});
