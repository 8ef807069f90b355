import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { RecordsInvalidError, RecordsLockedError } from '@agent-records/types';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  assertSessionId,
  FileSystemAgentRecordStore,
  RecordsInvalidSessionIdError,
} from './store.js';

let root: string;
beforeEach(() => {
  root = path.join(mkdtempSync(path.join(tmpdir(), 'store-')), 'sessions');
});
afterEach(() => rmSync(path.dirname(root), { recursive: true, force: true }));

describe('FileSystemAgentRecordStore', () => {
  it('opens, lists and deletes sessions', async () => {
    const store = new FileSystemAgentRecordStore(root);
    expect(await store.list()).toEqual([]);
    const a = store.open('session-a');
    a.append({ type: 'metadata' });
    a.append({ type: 'turn.prompt' });
    const b = store.open('b');
    b.append({ type: 'metadata' });
    await b.close();
    await a.flush();

    const listed = await store.list();
    expect(listed.map((s) => [s.id, s.records, s.size > 0])).toEqual([
      ['b', 1, true],
      ['session-a', 2, true],
    ]);
    expect(listed[1]?.lockedBy).toBe(process.pid);
    expect(listed[0]?.lockedBy).toBeUndefined();
    expect(listed[1]?.file).toBe(path.join(root, 'session-a.jsonl'));

    await expect(store.delete('session-a')).rejects.toBeInstanceOf(RecordsLockedError);
    await a.close();
    expect(await store.delete('session-a')).toBe(true);
    expect(await store.delete('session-a')).toBe(false);
    expect((await store.list()).map((s) => s.id)).toEqual(['b']);
  });

  it('lists only session logs', async () => {
    const store = new FileSystemAgentRecordStore(root);
    await store.open('x').close();
    const p = store.open('x');
    p.append({ type: 'a' });
    await p.close();
    writeFileSync(path.join(root, 'notes.txt'), 'hi');
    writeFileSync(path.join(root, '.hidden.jsonl'), '{"type":"a"}\n');
    expect((await store.list()).map((s) => s.id)).toEqual(['x']);
  });

  it.each([
    ['', /empty/],
    ['../escape', /path separator|\.\./],
    ['..', /"\.\."/],
    ['a/b', /path separator/],
    ['a\\b', /path separator/],
    ['nul\u0000byte', /NUL/],
    ['.', /"\."/],
    ['x'.repeat(201), /longer than 200/],
    [42, /not a string/],
  ])('refuses the session id %j without touching the disk', async (id, reason) => {
    const store = new FileSystemAgentRecordStore(root);
    expect(() => store.open(id as string)).toThrow(RecordsInvalidSessionIdError);
    expect(() => store.open(id as string)).toThrow(reason);
    await expect(store.delete(id as string)).rejects.toBeInstanceOf(RecordsInvalidError);
    expect(readdirSync(path.dirname(root))).toEqual([]);
  });

  it('accepts ordinary ids', () => {
    for (const id of ['0b7c2f6e-4a4e-4f7e-9f6e-1d2a3b4c5d6e', 'my session', 'a.b', 'é']) {
      expect(() => assertSessionId(id)).not.toThrow();
    }
  });
});
