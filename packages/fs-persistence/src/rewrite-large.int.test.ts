import { statSync } from 'node:fs';
import path from 'node:path';
import type { AgentRecordEnvelope } from '@agent-records/types';
import { expect, it } from 'vitest';
import { useTempDir } from '../test/temp-dir.js';
import { FileSystemAgentRecordPersistence } from './fs-persistence.js';

type Rec = AgentRecordEnvelope & { n: number };
const temp = useTempDir('rewrite-large-');

it('rewrites 1,000,000 records durably, and keeps appending after it', async () => {
  const file = path.join(temp.dir, 'big.jsonl');
  const COUNT = 1_000_000;
  const persistence = new FileSystemAgentRecordPersistence<Rec>(file);
  persistence.append({ type: 'before', n: -1 });
  await persistence.flush();

  const records: Rec[] = Array.from({ length: COUNT }, (_, n) => ({
    type: 'context.append_message',
    n,
  }));
  persistence.rewrite(records);
  await persistence.flush();
  persistence.append({ type: 'after', n: COUNT });
  await persistence.close();

  expect(statSync(file).size).toBeGreaterThan(COUNT * 30);
  const reader = new FileSystemAgentRecordPersistence<Rec>(file);
  let expected = 0;
  for await (const record of reader.read()) {
    if (record.n !== expected) throw new Error(`record ${expected} is n=${record.n}`);
    expected++;
  }
  expect(expected).toBe(COUNT + 1);
}, 300_000);
