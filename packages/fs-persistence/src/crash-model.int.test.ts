// The crash variant of the model-based suite: a child runs random append / flush / idle
// sequences and is SIGKILLed at random points, some of them while it idles after appends it
// never flushed. What must survive each kill: every record whose flush() resolved and every
// record appended more than GRACE_MS before the kill (disk time and CPU starvation aside), in
// order, once.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { AgentRecordEnvelope } from '@agent-records/types';
import { afterAll, describe, expect, it } from 'vitest';
import { FULL, startChild } from '../test/child.js';
import { FileSystemAgentRecordPersistence } from './fs-persistence.js';

type Rec = AgentRecordEnvelope & { n: number };

const KILLS = Number(process.env.AGENT_RECORDS_CRASH_MODEL_KILLS ?? (FULL ? 200 : 20));
/**
 * A record appended this long before the kill must have been written by the background writer
 * (not counting time the writer spent waiting on file operations, which the child reports).
 */
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
  /** [begin, end] of each write and fdatasync: time the disk took, not the writer. */
  diskBusy: Array<[number, number]>;
  /** Heartbeats every 10 ms; gaps beyond HEARTBEAT_SLACK_MS are time the child got no CPU. */
  heartbeats: number[];
}

// The child beats every 10 ms; a gap longer than 12 ms is time its event loop did not run (the
// machine gave it no CPU, or a thread-pool wait the seam cannot see), not the writer's to answer
// for. 20 ms let a loaded machine charge its many 13-19 ms gaps to the writer.
const HEARTBEAT_SLACK_MS = 12;

function parse(lines: readonly string[], killAt: number): Report {
  const report: Report = { appendedAt: new Map(), flushedUpTo: -1, diskBusy: [], heartbeats: [] };
  let began: number | undefined;
  for (const line of lines) {
    const [kind, n, ms] = line.split(' ');
    if (kind === 'A') report.appendedAt.set(Number(n), Number(ms));
    else if (kind === 'F') report.flushedUpTo = Math.max(report.flushedUpTo, Number(n));
    else if (kind === 'H') report.heartbeats.push(Number(n));
    else if (kind === 'B') began = Number(n);
    else if (kind === 'E' && began !== undefined) {
      report.diskBusy.push([began, Number(n)]);
      began = undefined;
    }
  }
  if (began !== undefined) report.diskBusy.push([began, killAt]);
  return report;
}

const overlap = (begin: number, end: number, from: number, to: number) =>
  Math.max(0, Math.min(end, to) - Math.max(begin, from));

/**
 * How long the writer itself had between an append at `from` and the kill: wall time minus the
 * time spent waiting on file operations and the time the child got no CPU (a slow disk or a busy
 * machine is not a writer that stalls; a writer that never writes still shows).
 */
function writerTime(report: Report, from: number, killAt: number): number {
  let lost = 0;
  for (const [begin, end] of report.diskBusy) lost += overlap(begin, end, from, killAt);
  const beats = [...report.heartbeats, killAt];
  for (let i = 1; i < beats.length; i++) {
    const [previous, next] = [beats[i - 1] as number, beats[i] as number];
    if (next - previous > HEARTBEAT_SLACK_MS) {
      lost += overlap(previous + HEARTBEAT_SLACK_MS, next, from, killAt);
    }
  }
  return killAt - from - lost;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface Tally {
  idleKills: number;
  recordsOwedByGrace: number;
  keptBeyondOwed: number;
}

/**
 * Starts a child on `file` `kills` times and SIGKILLs it; throws at the first kill after which
 * the log breaks the rule. Every `idleEvery`-th kill lands while the child idles after appends
 * it never flushed; the rest land anywhere in the sequence.
 */
async function killRounds(file: string, kills: number, baseSeed: number, idleEvery: number) {
  const tally: Tally = { idleKills: 0, recordsOwedByGrace: 0, keptBeyondOwed: 0 };
  for (let kill = 0; kill < kills; kill++) {
    const before = await readNumbers(file);
    const seed = baseSeed + kill;
    const child = startChild('model-writer.mjs', [file, String(before.length), String(seed)]);
    await child.waitForLines(1);
    let killAt: number;
    if (kill % idleEvery === idleEvery - 1) {
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

    const report = parse(child.lines, killAt);
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
    for (const [n, at] of report.appendedAt) {
      if (writerTime(report, at, killAt) > GRACE_MS) owed = Math.max(owed, n);
    }
    if (last < owed) {
      const at = report.appendedAt.get(owed) ?? 0;
      throw new Error(
        `${where}: record ${owed} was appended ${killAt - at} ms before the kill ` +
          `(${writerTime(report, at, killAt)} ms of it with CPU and not waiting on file operations) and never written ` +
          `(log ends at ${last}; background writes must drain without a flush). The child said, ` +
          `from that append on: ${child.lines
            .slice(child.lines.indexOf(`A ${owed} ${at}`))
            .filter((line) => !line.startsWith('H '))
            .slice(0, 40)
            .join(' | ')}; killed at ${killAt}`,
      );
    }
    if (owed > report.flushedUpTo) tally.recordsOwedByGrace += owed - report.flushedUpTo;
    if (last > Math.max(owed, report.flushedUpTo)) tally.keptBeyondOwed++;
  }
  return tally;
}

describe('crash safety of random append / flush / idle sequences under SIGKILL', () => {
  it(`keeps every flushed record and every record appended ${GRACE_MS} ms before the kill, in order, once (${KILLS} kills)`, async () => {
    const file = path.join(dir, 'model.jsonl');
    const baseSeed = Number(process.env.AGENT_RECORDS_CRASH_MODEL_SEED ?? Date.now() % 2 ** 31);
    const tally = await killRounds(file, KILLS, baseSeed, 3);
    console.log(
      `crash model: ${KILLS} SIGKILLs (${tally.idleKills} while idle after unflushed appends), ` +
        `${tally.recordsOwedByGrace} records required only by the ${GRACE_MS} ms rule, ` +
        `${tally.keptBeyondOwed} kills kept records beyond what was owed; seed ${baseSeed}`,
    );
    // A clean writer appends after whatever the last kill left.
    const final = await readNumbers(file);
    const writer = new FileSystemAgentRecordPersistence<Rec>(file, { onError: () => {} });
    writer.append({ type: 'crash.model', n: final.length });
    await writer.close();
    expect(await readNumbers(file)).toEqual(Array.from({ length: final.length + 1 }, (_, i) => i));
  }, 900_000);

  it('notices a writer that writes appends only when flushed (the check is not vacuous)', async () => {
    const file = path.join(dir, 'flush-only.jsonl');
    process.env.MODEL_WRITER_FLUSH_ONLY = '1';
    try {
      // Every kill while idle after unflushed appends: a few rounds must expose it.
      await expect(killRounds(file, 6, 1, 1)).rejects.toThrow(/never written/);
    } finally {
      delete process.env.MODEL_WRITER_FLUSH_ONLY;
    }
  }, 300_000);
});
