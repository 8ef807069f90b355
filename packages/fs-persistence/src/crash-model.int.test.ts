// The crash variant of the model-based suite: a child runs random append / flush / idle
// sequences and is SIGKILLed at random points, some of them while it idles after appends it
// never flushed. What must survive each kill: every record whose flush() resolved and every
// record appended more than GRACE_MS before the kill, in order, once.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { AgentRecordEnvelope } from '@agent-records/types';
import { afterAll, describe, expect, it } from 'vitest';
import { FULL, startChild } from '../test/child.js';
import { FileSystemAgentRecordPersistence } from './fs-persistence.js';

type Rec = AgentRecordEnvelope & { n: number };

const KILLS = Number(process.env.AGENT_RECORDS_CRASH_MODEL_KILLS ?? (FULL ? 200 : 20));
/** A record appended this long before the kill must have been written by the background writer. */
const GRACE_MS = Number(process.env.AGENT_RECORDS_CRASH_GRACE_MS ?? 100);

const dir = mkdtempSync(path.join(tmpdir(), 'crash-model-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function readNumbers(file: string): Promise<number[]> {
  const reader = new FileSystemAgentRecordPersistence<Rec>(file, { onError: () => {} });
  const numbers: number[] = [];
  for await (const record of reader.read()) numbers.push(record.n);
  return numbers;
}

interface Report {
  appendedAt: Map<number, number>;
  flushedUpTo: number;
  idleLines: number;
}

function parse(lines: readonly string[]): Report {
  const report: Report = { appendedAt: new Map(), flushedUpTo: -1, idleLines: 0 };
  for (const line of lines) {
    const [kind, n, ms] = line.split(' ');
    if (kind === 'A') report.appendedAt.set(Number(n), Number(ms));
    else if (kind === 'F') report.flushedUpTo = Math.max(report.flushedUpTo, Number(n));
    else if (kind === 'I') report.idleLines++;
  }
  return report;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('crash safety of random append / flush / idle sequences under SIGKILL', () => {
  it(`keeps every flushed record and every record appended ${GRACE_MS} ms before the kill, in order, once (${KILLS} kills)`, async () => {
    const file = path.join(dir, 'model.jsonl');
    const baseSeed = Number(process.env.AGENT_RECORDS_CRASH_MODEL_SEED ?? Date.now() % 2 ** 31);
    const tally = { idleKills: 0, recordsOwedByGrace: 0, tornOrUnflushedKept: 0 };
    for (let kill = 0; kill < KILLS; kill++) {
      const before = await readNumbers(file);
      const seed = baseSeed + kill;
      const child = startChild('model-writer.mjs', [file, String(before.length), String(seed)]);
      await child.waitForLines(1);
      // Every third kill lands while the child idles after appending without a flush; the rest
      // land anywhere in the sequence.
      const idleKill = kill % 3 === 2;
      let killAt: number;
      if (idleKill) {
        const seen = child.lines.length;
        const deadline = Date.now() + 20_000;
        while (!child.lines.slice(seen).some((line) => line.startsWith('I '))) {
          if (Date.now() > deadline) throw new Error(`seed ${seed}: the child never idled`);
          await sleep(5);
        }
        await sleep(GRACE_MS + 5 + Math.random() * 40);
        killAt = Date.now();
        tally.idleKills++;
      } else {
        await sleep(Math.random() * 300);
        killAt = Date.now();
      }
      await child.kill();

      const report = parse(child.lines);
      const after = await readNumbers(file);
      const where = `kill ${kill} (AGENT_RECORDS_CRASH_MODEL_SEED=${baseSeed}, child seed ${seed})`;
      // Contiguous from 0: nothing lost, reordered or written twice.
      for (let i = 0; i < after.length; i++) {
        if (after[i] !== i) throw new Error(`${where}: record ${i} is n=${after[i]}`);
      }
      const last = after.length - 1;
      if (last < report.flushedUpTo) {
        throw new Error(
          `${where}: flush() resolved up to ${report.flushedUpTo}, log ends at ${last}`,
        );
      }
      let owed = -1;
      for (const [n, at] of report.appendedAt) if (at < killAt - GRACE_MS) owed = Math.max(owed, n);
      if (last < owed) {
        throw new Error(
          `${where}: record ${owed} was appended ${killAt - (report.appendedAt.get(owed) ?? 0)} ms before the kill ` +
            `and never written (log ends at ${last}; background writes must drain without a flush)`,
        );
      }
      if (owed > report.flushedUpTo) tally.recordsOwedByGrace += owed - report.flushedUpTo;
      if (last > Math.max(owed, report.flushedUpTo)) tally.tornOrUnflushedKept++;
    }
    console.log(
      `crash model: ${KILLS} SIGKILLs (${tally.idleKills} while idle after unflushed appends), ` +
        `${tally.recordsOwedByGrace} records required only by the ${GRACE_MS} ms rule, ` +
        `${tally.tornOrUnflushedKept} kills kept records beyond what was owed; seed ${baseSeed}`,
    );
    // A clean writer appends after whatever the last kill left.
    const final = await readNumbers(file);
    const writer = new FileSystemAgentRecordPersistence<Rec>(file, { onError: () => {} });
    writer.append({ type: 'crash.model', n: final.length });
    await writer.close();
    expect(await readNumbers(file)).toEqual(Array.from({ length: final.length + 1 }, (_, i) => i));
  }, 900_000);
});
