import { lstatSync, mkdirSync, readdirSync, readFileSync, symlinkSync } from 'node:fs';
import path from 'node:path';
import type { AgentRecordEnvelope } from '@agent-records/types';
import { describe, expect, it } from 'vitest';
import { useTempDir } from '../test/temp-dir.js';
import { FileSystemAgentRecordPersistence } from './fs-persistence.js';

type Rec = AgentRecordEnvelope & { n: number };

const temp = useTempDir('fs-symlink-');

describe('a log that is a symlink (issue 16)', () => {
  it('a rewrite replaces the file the symlink points to and keeps the symlink', async () => {
    const real = path.join(temp.dir, 'elsewhere', 'real.jsonl');
    const link = path.join(temp.dir, 'logs', 'session.jsonl');
    mkdirSync(path.dirname(real));
    mkdirSync(path.dirname(link));
    const seed = new FileSystemAgentRecordPersistence<Rec>(real);
    seed.append({ type: 'old', n: 1 });
    await seed.close();
    symlinkSync(real, link);

    const persistence = new FileSystemAgentRecordPersistence<Rec>(link);
    persistence.rewrite([{ type: 'new', n: 2 }]);
    persistence.append({ type: 'after', n: 3 });
    await persistence.close();

    expect(lstatSync(link).isSymbolicLink()).toBe(true);
    const expected = '{"type":"new","n":2}\n{"type":"after","n":3}\n';
    expect(readFileSync(real, 'utf8')).toBe(expected);
    // The temp file lived beside the target, and nothing is left of it in either folder. The
    // summary lives beside the path the writer was given (the seed's beside the real file).
    expect(readdirSync(path.dirname(real))).toEqual(['real.jsonl', 'real.jsonl.summary.json']);
    expect(readdirSync(path.dirname(link))).toEqual([
      'session.jsonl',
      'session.jsonl.summary.json',
    ]);
    const reader = new FileSystemAgentRecordPersistence<Rec>(link);
    const read: Rec[] = [];
    for await (const record of reader.read()) read.push(record);
    expect(read).toEqual([
      { type: 'new', n: 2 },
      { type: 'after', n: 3 },
    ]);
  });
});
