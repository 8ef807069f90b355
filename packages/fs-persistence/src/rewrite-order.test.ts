import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { AgentRecordEnvelope } from '@agent-records/types';
import { describe, expect, it } from 'vitest';
import { useTempDir } from '../test/temp-dir.js';
import { FileSystemAgentRecordPersistence } from './fs-persistence.js';

const temp = useTempDir('fs-rewrite-order-');

describe('rewrites queued while the writer opens the log', () => {
  // The model suite's shrunk counterexample: [rewrite([]), rewrite([separators("")]), flush()].
  it('the second of two rewrites queued before the first open is the log when flush() resolves', async () => {
    const file = path.join(temp.dir, 'log.jsonl');
    const persistence = new FileSystemAgentRecordPersistence<AgentRecordEnvelope>(file);
    persistence.rewrite([]);
    // The writer starts opening the file (a microtask later) before the second rewrite comes.
    await Promise.resolve();
    await Promise.resolve();
    persistence.rewrite([{ type: 'second', text: 'a b\n' } as AgentRecordEnvelope]);
    await persistence.flush();
    expect(readFileSync(file, 'utf8')).toBe('{"type":"second","text":"a b\\n"}\n');
    await persistence.close();
  });
});
