import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { AgentRecords } from '@agent-records/core';
import type { AgentRecordEnvelope, RecordsErrorInfo } from '@agent-records/types';
import { describe, expect, it } from 'vitest';
import { useTempDir } from '../test/temp-dir.js';
import { FileSystemAgentRecordPersistence } from './fs-persistence.js';

type Rec = AgentRecordEnvelope & Record<string, unknown>;

const temp = useTempDir('fs-refused-');

const typesIn = (file: string) =>
  readFileSync(file, 'utf8')
    .split('\n')
    .filter((line) => line.length > 0)
    .map((line) => (JSON.parse(line) as Rec).type);

describe('a record that does not serialise to a record (file)', () => {
  it.each([
    ['returns undefined', () => undefined],
    ['returns 5', () => 5],
    ['returns an object without type', () => ({ hello: 1 })],
  ])(
    'a toJSON that %s is refused alone: later records are written, close releases the lock, the log reads back',
    async (_name, toJSON) => {
      const file = path.join(temp.dir, 'log.jsonl');
      const kinds: RecordsErrorInfo['kind'][] = [];
      const records = new AgentRecords<Rec>({
        persistence: new FileSystemAgentRecordPersistence<Rec>(file),
        protocolVersion: '1.0',
        onError: (_error, info) => kinds.push(info.kind),
      });
      records.logRecord({ type: 'before' });
      records.logRecord({ type: 'bad', time: 1, toJSON });
      records.logRecord({ type: 'after' });
      await expect(records.close()).resolves.toBeUndefined();
      expect(existsSync(`${file}.lock`)).toBe(false);
      expect(typesIn(file)).toEqual(['metadata', 'before', 'after']);
      expect(kinds).toEqual(['record-refused']);
      // The log is readable by the next process's replay.
      const next = new AgentRecords<Rec>({
        persistence: new FileSystemAgentRecordPersistence<Rec>(file),
        protocolVersion: '1.0',
      });
      await expect(next.replay()).resolves.toMatchObject({ records: 3 });
      await next.close();
    },
  );

  it('a restore that throws during replay names the record position and the log file', async () => {
    const file = path.join(temp.dir, 'replay.jsonl');
    const writer = new AgentRecords<Rec>({
      persistence: new FileSystemAgentRecordPersistence<Rec>(file),
      protocolVersion: '1.0',
    });
    writer.logRecord({ type: 'a' });
    writer.logRecord({ type: 'b' });
    await writer.close();
    const cause = new Error('no handler state');
    const reader = new AgentRecords<Rec>({
      persistence: new FileSystemAgentRecordPersistence<Rec>(file),
      protocolVersion: '1.0',
      restore: (record) => {
        if (record.type === 'b') throw cause;
      },
    });
    const replay = reader.replay();
    await expect(replay).rejects.toMatchObject({
      code: 'RECORDS_REPLAY',
      position: 3,
      file,
      cause,
    });
    await expect(replay).rejects.toThrow(`record #3 (${file}) of type "b"`);
    await reader.close();
  });
});
