import {
  existsSync,
  mkdirSync,
  readdirSync,
  renameSync,
  rmSync,
  statSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import path from 'node:path';
import type { AgentRecordEnvelope } from '@agent-records/types';
import { describe, expect, it } from 'vitest';
import { imageDataUri, useBlobFolders } from '../../test/blob-fixtures.js';
import { readAll } from '../../test/read-all.js';
import { FileSystemAgentRecordPersistence } from '../fs-persistence.js';
import { FileSystemAgentRecordStore } from '../store.js';
import { collectBlobGarbage, logFilesIn, removeUnlessTouched } from './gc.js';

type Rec = AgentRecordEnvelope & Record<string, unknown>;
const temp = useBlobFolders('blobs-gc-');

const image = (seed: number) => imageDataUri(7000, seed);

const open = (file: string) =>
  new FileSystemAgentRecordPersistence<Rec>(file, {
    blobs: { dir: temp.blobDir },
    onError: () => {},
  });

/** Makes every blob look two hours old, past gc's default grace period. */
function ageBlobs(): void {
  const old = (Date.now() - 2 * 3600_000) / 1000;
  for (const name of readdirSync(temp.blobDir)) utimesSync(path.join(temp.blobDir, name), old, old);
}

describe('blobs: gc and live writers', () => {
  it('the same image logged again after a rewrite and a gc is not a dangling reference', async () => {
    const file = path.join(temp.dir, 'live.jsonl');
    const writer = open(file);
    writer.append({ type: 'shot', img: image(1) });
    await writer.flush();
    writer.rewrite([{ type: 'compacted' }]); // the log no longer points at the blob
    await writer.flush();
    ageBlobs();
    const report = await collectBlobGarbage({ blobDir: temp.blobDir, logs: [file] });
    expect(report.removed).toHaveLength(1); // unreferenced and old: rightly collected

    writer.append({ type: 'shot again', img: image(1) }); // the writer once stored this blob
    await writer.close();
    const records = await readAll(open(file));
    expect(records.map((r) => r.type)).toEqual(['compacted', 'shot again']);
    expect(records[1]?.img).toBe(image(1));
  });

  it('a live writer pointing at an old blob again refreshes it, so the grace period keeps it', async () => {
    const file = path.join(temp.dir, 'again.jsonl');
    const writer = open(file);
    writer.append({ type: 'shot', img: image(2) });
    await writer.flush();
    writer.rewrite([{ type: 'compacted' }]);
    await writer.flush();
    ageBlobs();
    writer.append({ type: 'same shot', img: image(2) });
    await writer.flush();
    const [name] = readdirSync(temp.blobDir).filter((n) => !n.startsWith('.'));
    expect(Date.now() - statSync(path.join(temp.blobDir, name as string)).mtimeMs).toBeLessThan(
      3600_000,
    );
    // A gc that read the log before this line existed still keeps the blob.
    const report = await collectBlobGarbage({ blobDir: temp.blobDir, logs: [] });
    expect(report).toMatchObject({ removed: [], tooYoung: 1 });
    await writer.close();
    expect((await readAll(open(file)))[1]?.img).toBe(image(2));
  });

  it('a writer whose whole blob folder was removed makes it again before the next line', async () => {
    const file = path.join(temp.dir, 'folder.jsonl');
    const writer = open(file);
    writer.append({ type: 'shot', img: image(5) });
    await writer.flush();
    rmSync(temp.blobDir, { recursive: true });
    writer.append({ type: 'shot again', img: image(5) });
    await writer.close();
    expect((await readAll(open(file)))[1]?.img).toBe(image(5));
  });

  it('gc puts back a blob that a writer refreshed after gc looked at it', async () => {
    mkdirSync(temp.blobDir);
    const blob = path.join(temp.blobDir, 'a'.repeat(64));
    writeFileSync(blob, 'bytes');
    const old = (Date.now() - 2 * 3600_000) / 1000;
    utimesSync(blob, old, old);
    const seen = statSync(blob).mtimeMs;
    const now = Date.now() / 1000;
    utimesSync(blob, now, now); // the writer's re-check, between gc's look and its removal
    expect(await removeUnlessTouched(blob, seen)).toBe(false);
    expect(existsSync(blob)).toBe(true);
    expect(readdirSync(temp.blobDir)).toEqual(['a'.repeat(64)]); // no quarantine file left behind
    expect(await removeUnlessTouched(blob, statSync(blob).mtimeMs)).toBe(true);
    expect(readdirSync(temp.blobDir)).toEqual([]);
  });

  it('a blob a crashed gc had set aside is put back when a log references it', async () => {
    const file = path.join(temp.dir, 'aside.jsonl');
    const writer = open(file);
    writer.append({ type: 'shot', img: image(6) });
    await writer.close();
    const [hash] = readdirSync(temp.blobDir);
    const aside = `.${hash}.0f4b2c1e-9d3a-4c5e-8f7a-1b2c3d4e5f60.gc`;
    renameSync(path.join(temp.blobDir, hash as string), path.join(temp.blobDir, aside));
    writeFileSync(path.join(temp.blobDir, `.${'b'.repeat(64)}.0f4b2c1e-9d3a.gc`), 'unreferenced');
    ageBlobs();
    const report = await collectBlobGarbage({ blobDir: temp.blobDir, logs: [file] });
    expect(report).toMatchObject({ referenced: 1, kept: 1 });
    expect(report.removed).toEqual([{ hash: 'b'.repeat(64), bytes: 12 }]);
    expect(readdirSync(temp.blobDir)).toEqual([hash]);
    expect((await readAll(open(file)))[0]?.img).toBe(image(6));
  });

  it('gc keeps the blobs of a log whose name starts with a dot', async () => {
    const root = path.join(temp.dir, 'root');
    const store = new FileSystemAgentRecordStore(root, { blobs: { dir: temp.blobDir } });
    // A dotfile log: written by an older version, or by hand; store.open may refuse the id.
    const hidden = open(path.join(root, '.hidden.jsonl'));
    hidden.append({ type: 'x', img: image(3) });
    await hidden.close();
    const visible = open(path.join(root, 'visible.jsonl'));
    visible.append({ type: 'x', img: image(4) });
    await visible.close();
    const report = await store.collectBlobGarbage({ minAgeMs: 0 });
    expect(report).toMatchObject({ referenced: 2, kept: 2, removed: [] });
    expect((await readAll(open(path.join(root, '.hidden.jsonl'))))[0]?.img).toBe(image(3));
  });

  it('counts every log and snapshot of a folder as a reference holder, skipping locks, summaries and folders', async () => {
    const root = path.join(temp.dir, 'root');
    mkdirSync(path.join(root, 'blobs'), { recursive: true });
    mkdirSync(path.join(root, 'folder.jsonl'));
    const names = [
      'a.jsonl',
      '.dot.jsonl',
      'a.jsonl.lock',
      'a.jsonl.torn-1764000000000-abcd1234',
      '.a.jsonl.0b7c.rewrite.tmp',
      'a.jsonl.snapshot',
      '.a.jsonl.0b7c.snapshot.tmp',
      'a.jsonl.summary.json',
      '.a.jsonl.0b7c.summary.tmp',
      'notes.txt',
    ];
    for (const name of names) writeFileSync(path.join(root, name), '');
    expect((await logFilesIn(root)).map((f) => path.basename(f)).sort()).toEqual(
      [
        '.a.jsonl.0b7c.rewrite.tmp',
        '.a.jsonl.0b7c.snapshot.tmp',
        '.dot.jsonl',
        'a.jsonl',
        'a.jsonl.snapshot',
        'a.jsonl.torn-1764000000000-abcd1234',
      ].sort(),
    );
    expect(await logFilesIn(path.join(temp.dir, 'absent'))).toEqual([]);
  });
});
