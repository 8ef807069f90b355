import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  type AgentRecordEnvelope,
  RecordsInvalidSessionIdError,
  RecordsLockedError,
} from '@agent-records/types';
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { RecordsInvalidSessionIdError as ReExported } from './index.js';
import { assertSessionId, FileSystemAgentRecordStore } from './store.js';

let root: string;
beforeEach(() => {
  root = path.join(mkdtempSync(path.join(tmpdir(), 'store-')), 'sessions');
});
afterEach(() => rmSync(path.dirname(root), { recursive: true, force: true }));

describe('FileSystemAgentRecordStore', () => {
  it('opens, lists and deletes sessions', async () => {
    const store = new FileSystemAgentRecordStore(root);
    expect(await store.list()).toEqual([]);
    const a = store.open<AgentRecordEnvelope>('session-a');
    a.append({ type: 'metadata' });
    a.append({ type: 'turn.prompt' });
    const b = store.open<AgentRecordEnvelope>('b');
    b.append({ type: 'metadata' });
    await b.close();
    await a.flush();

    // By id here: both were written at once, so their order by last activity is the writers'.
    const listed = (await store.list()).sort((x, y) => (x.id < y.id ? -1 : 1));
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
    const p = store.open<AgentRecordEnvelope>('x');
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
    ['x'.repeat(201), /201 bytes in UTF-8/],
    ['x'.repeat(200), /200 bytes in UTF-8/], // accepted before, then its rewrite hit ENAMETOOLONG
    ['日'.repeat(100), /300 bytes in UTF-8/],
    ['.hidden', /starts with "\."/],
    [42, /not a string/],
  ])('refuses the session id %j without touching the disk', async (id, reason) => {
    const store = new FileSystemAgentRecordStore(root);
    expect(() => store.open(id as string)).toThrow(RecordsInvalidSessionIdError);
    expect(() => store.open(id as string)).toThrow(reason);
    await expect(store.delete(id as string)).rejects.toBeInstanceOf(RecordsInvalidSessionIdError);
    expect(readdirSync(path.dirname(root))).toEqual([]);
  });

  it('accepts ordinary ids', () => {
    for (const id of ['0b7c2f6e-4a4e-4f7e-9f6e-1d2a3b4c5d6e', 'my session', 'a.b', 'é']) {
      expect(() => assertSessionId(id)).not.toThrow();
    }
  });
});

/** The longest run of `char` that `open()` accepts: the extreme of each kind of id. */
function longestAccepted(store: FileSystemAgentRecordStore, char: string): string {
  let id = char;
  for (let n = 1; n < 1000; n++) {
    const candidate = char.repeat(n);
    try {
      store.open(candidate, { lock: false });
    } catch {
      break;
    }
    id = candidate;
  }
  return id;
}

describe('session ids', () => {
  it('every id open() accepts can be appended, snapshotted, titled, rewritten, flushed, listed and deleted', async () => {
    const store = new FileSystemAgentRecordStore(root);
    const extremes = ['x', '日', 'é', '😀', '-'].map((char) => longestAccepted(store, char));
    const unit = fc.constantFrom('a', 'Z', '0', '-', '_', ' ', '.', 'é', '日', '😀', 'ß', '\u200d');
    const ids = fc.oneof(
      fc.constantFrom(...extremes),
      fc.string({ unit, minLength: 1, maxLength: 200 }),
      fc.string({ unit: 'grapheme', minLength: 1, maxLength: 120 }),
    );
    let checked = 0;
    await fc.assert(
      fc.asyncProperty(ids, async (id) => {
        try {
          store.open(id, { lock: false });
        } catch (error) {
          expect(error).toBeInstanceOf(RecordsInvalidSessionIdError);
          return; // refused up front: nothing to check
        }
        checked++;
        const reports: string[] = [];
        const log = store.open<AgentRecordEnvelope>(id, {
          onError: (error) => reports.push(error.message),
        });
        log.append({ type: 'metadata' });
        log.append({ type: 'turn.prompt', text: id } as AgentRecordEnvelope);
        log.writeSnapshot({ records: 2, data: JSON.stringify(id) });
        log.setTitle(id);
        await log.flush();
        const snapshot = await log.readSnapshot();
        expect(snapshot?.data).toBe(JSON.stringify(id));
        log.rewrite([{ type: 'metadata' }, { type: 'rewritten' }]);
        log.append({ type: 'after' });
        log.writeSnapshot({ records: 3, data: '"after"' });
        await log.close();
        expect(reports).toEqual([]);
        expect(readFileSync(store.fileOf(id), 'utf8')).toBe(
          '{"type":"metadata"}\n{"type":"rewritten"}\n{"type":"after"}\n',
        );
        expect((await log.readSnapshot())?.data).toBe('"after"');
        expect((await store.list()).map((s) => [s.id, s.title, s.records])).toEqual([[id, id, 3]]);
        expect(await store.delete(id)).toBe(true);
        expect(readdirSync(root)).toEqual([]);
      }),
      { numRuns: 40, examples: extremes.map((id) => [id]) },
    );
    expect(checked).toBeGreaterThan(extremes.length);
  }, 120_000);

  it('refuses an id starting with "."', () => {
    const store = new FileSystemAgentRecordStore(root);
    expect(() => store.open('.config')).toThrow(RecordsInvalidSessionIdError);
    expect(() => store.open('.config')).toThrow(/starts with "\."/);
  });

  it('re-exports the one RecordsInvalidSessionIdError of the types package', () => {
    expect(ReExported).toBe(RecordsInvalidSessionIdError);
  });

  it('leaves room in every derived file name for the longest id', () => {
    // The longest name derived from an id is the snapshot temp file
    // `.<id>.jsonl.<uuid>.snapshot.tmp`; every one must fit the 255-byte name limit for the
    // longest accepted id (the property test above writes each of them for real).
    const store = new FileSystemAgentRecordStore(root);
    const uuid = '0b7c2f6e-4a4e-4f7e-9f6e-1d2a3b4c5d6e';
    for (const char of ['x', '日', '😀']) {
      const id = longestAccepted(store, char);
      for (const name of [
        `.${id}.jsonl.${uuid}.rewrite.tmp`,
        `.${id}.jsonl.${uuid}.snapshot.tmp`,
        `.${id}.jsonl.${uuid}.summary.tmp`,
        `${id}.jsonl.summary.json`,
        `${id}.jsonl.snapshot`,
        `${id}.jsonl.lock.break-${uuid}`,
        `${id}.jsonl.torn-${Date.now()}-${uuid.slice(0, 8)}`,
      ]) {
        expect(Buffer.byteLength(name)).toBeLessThanOrEqual(255);
      }
    }
  });
});
