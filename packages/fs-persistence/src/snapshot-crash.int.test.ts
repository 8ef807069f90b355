import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { type AgentRecordEnvelope, RecordsPositionError } from '@agent-records/types';
import { afterAll, describe, expect, it } from 'vitest';
import { FULL, randomDelay, startChild } from '../test/child.js';
import { FileSystemAgentRecordPersistence } from './fs-persistence.js';

type Rec = AgentRecordEnvelope & { n: number; gen: number };

const KILLS = Number(process.env.AGENT_RECORDS_SNAPSHOT_KILLS ?? (FULL ? 200 : 30));
const dir = mkdtempSync(path.join(tmpdir(), 'snapshot-crash-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('snapshots under SIGKILL', () => {
  it(`leaves no snapshot, or one that matches its log (never torn, never from before a rewrite), across ${KILLS} kills`, async () => {
    const file = path.join(dir, 'session.jsonl');
    const outcomes = { none: 0, matching: 0, records: 0 };
    for (let kill = 0; kill < KILLS; kill++) {
      const child = startChild('snapshot-writer.mjs', [file]);
      await child.waitForLines(2);
      await randomDelay(40);
      await child.kill();

      const warnings: string[] = [];
      const reader = new FileSystemAgentRecordPersistence<Rec>(file, {
        onError: (error) => warnings.push(error.message),
      });
      const log: Rec[] = [];
      for await (const record of reader.read()) log.push(record);
      const gen = log[0]?.gen ?? 0;
      log.forEach((record, i) => {
        if (record.n !== i || record.gen !== gen) {
          throw new Error(`kill ${kill}: record ${i} is ${JSON.stringify([record.n, record.gen])}`);
        }
      });
      const snapshot = await reader.readSnapshot();
      expect(warnings, `kill ${kill}: a snapshot file was unreadable`).toEqual([]);
      if (snapshot === null) {
        outcomes.none++;
        continue;
      }
      let tail = 0;
      try {
        for await (const batch of reader.readFrom(snapshot.position)) tail += batch.records.length;
      } catch (error) {
        if (error instanceof RecordsPositionError) {
          throw new Error(
            `kill ${kill}: the stored snapshot does not match its log: ${error.message}`,
          );
        }
        throw error;
      }
      const state = JSON.parse(snapshot.data) as { records: number; gen: number };
      // The records before its position are exactly the ones it covers, of this log's generation.
      expect(snapshot.records, `kill ${kill}`).toBe(log.length - tail);
      expect(state.records, `kill ${kill}`).toBe(snapshot.records);
      expect(state.gen, `kill ${kill}: a snapshot of another generation`).toBe(gen);
      outcomes.matching++;
      outcomes.records = log.length;
    }
    console.log(
      `snapshot crash test: ${KILLS} SIGKILLs, no snapshot ${outcomes.none}x, a matching one ` +
        `${outcomes.matching}x, log at ${outcomes.records} records`,
    );
    expect(outcomes.none + outcomes.matching).toBe(KILLS);
    expect(outcomes.matching).toBeGreaterThan(0);
  }, 600_000);
});
