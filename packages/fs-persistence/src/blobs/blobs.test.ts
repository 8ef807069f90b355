import { randomBytes } from 'node:crypto';
import {
  existsSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import path from 'node:path';
import type { AgentRecordEnvelope, RecordsErrorInfo } from '@agent-records/types';
import { describe, expect, it } from 'vitest';
import { imageDataUri, useBlobFolders } from '../../test/blob-fixtures.js';
import { FaultyFileSystem, ioError } from '../../test/faulty-fs.js';
import { readAll } from '../../test/read-all.js';
import { FileSystemAgentRecordPersistence } from '../fs-persistence.js';
import { FileSystemAgentRecordStore } from '../store.js';
import { collectBlobGarbage } from './gc.js';

type Rec = AgentRecordEnvelope & Record<string, unknown>;
const temp = useBlobFolders('blobs-');

function open(file: string, reports: Array<[string, string]> = []) {
  return new FileSystemAgentRecordPersistence<Rec>(file, {
    blobs: { dir: temp.blobDir, threshold: 4096 },
    onError: (error: Error, info: RecordsErrorInfo) => reports.push([info.kind, error.message]),
  });
}

describe('blobs', () => {
  it('moves large data URIs in nested content parts out of line and puts them back on read', async () => {
    const file = path.join(temp.dir, 's.jsonl');
    const screenshot = imageDataUri(10_000, 1);
    const record: Rec = {
      type: 'context.append_message',
      message: {
        role: 'user',
        content: [
          { type: 'text', text: 'what is on the screen?' },
          { type: 'image', source: screenshot, nested: { again: [screenshot] } },
          { type: 'image', source: 'data:image/png;base64,c21hbGw=' },
        ],
      },
    };
    const before = JSON.stringify(record);
    const persistence = open(file);
    persistence.append(record);
    expect(JSON.stringify(record)).toBe(before); // the host's object is not touched
    expect(await readAll(persistence)).toEqual([record]); // pending: put back from memory
    await persistence.close();

    const line = readFileSync(file, 'utf8');
    expect(line.length).toBeLessThan(700);
    expect(line).toMatch(/"source":"blobref:image\/png;[0-9a-f]{64}"/);
    expect(line).toContain('"data:image/png;base64,c21hbGw="'); // under the threshold: inline
    const blobs = readdirSync(temp.blobDir);
    expect(blobs).toHaveLength(1);
    expect(statSync(path.join(temp.blobDir, blobs[0] as string)).mode & 0o777).toBe(0o600);
    expect(statSync(temp.blobDir).mode & 0o777).toBe(0o700);
    expect(readFileSync(path.join(temp.blobDir, blobs[0] as string))).toEqual(
      Buffer.from(screenshot.slice('data:image/png;base64,'.length), 'base64'),
    );
    expect(await readAll(open(file))).toEqual([record]);
  });

  it('stores the same image once when it is logged twice', async () => {
    const file = path.join(temp.dir, 'dedup.jsonl');
    const persistence = open(file);
    persistence.append({ type: 'a', img: imageDataUri(9000, 2) });
    await persistence.flush();
    persistence.append({ type: 'b', img: imageDataUri(9000, 2) });
    persistence.append({ type: 'c', img: imageDataUri(9000, 3) });
    await persistence.close();
    expect(readdirSync(temp.blobDir)).toHaveLength(2);
  });

  it('leaves a missing blob as a visible reference and warns once, never failing the read', async () => {
    const file = path.join(temp.dir, 'missing.jsonl');
    const persistence = open(file);
    persistence.append({ type: 'a', img: imageDataUri() });
    persistence.append({ type: 'b', img: imageDataUri() });
    await persistence.close();
    for (const name of readdirSync(temp.blobDir)) rmSync(path.join(temp.blobDir, name));
    const reports: Array<[string, string]> = [];
    const records = await readAll(open(file, reports));
    expect(records).toHaveLength(2);
    for (const record of records) expect(record.img).toMatch(/^blobref:image\/png;[0-9a-f]{64}$/);
    expect(reports).toHaveLength(1);
    expect(reports[0]?.[0]).toBe('warning');
    expect(reports[0]?.[1]).toMatch(/blob [0-9a-f]{64} is missing/);
  });

  it('never opens a path from a crafted reference', async () => {
    const file = path.join(temp.dir, 'crafted.jsonl');
    const crafted = [
      'blobref:image/png;../../etc/passwd',
      'blobref:image/png;/etc/passwd',
      `blobref:image/png;${'A'.repeat(64)}`,
      'blobref:noseparator',
    ];
    writeFileSync(
      file,
      `${crafted.map((ref, n) => JSON.stringify({ type: 'x', n, ref })).join('\n')}\n`,
    );
    const reports: Array<[string, string]> = [];
    const records = await readAll(open(file, reports));
    expect(records.map((r) => r.ref)).toEqual(crafted);
    expect(reports.map(([kind]) => kind)).toEqual(['warning', 'warning', 'warning', 'warning']);
    expect(reports[0]?.[1]).toContain('invalid hash');
  });

  it('a blob written before a crash and never referenced is harmless, and collected', async () => {
    const file = path.join(temp.dir, 'orphan.jsonl');
    const persistence = open(file);
    persistence.append({ type: 'kept', img: imageDataUri(9000, 5) });
    await persistence.close();
    // What a crash between the blob write and the line write leaves: a blob nobody points at.
    const orphan = randomBytes(5000);
    const { createHash } = await import('node:crypto');
    const orphanHash = createHash('sha256').update(orphan).digest('hex');
    writeFileSync(path.join(temp.blobDir, orphanHash), orphan);
    writeFileSync(path.join(temp.blobDir, 'notes.txt'), 'not a blob: never touched');
    expect(await readAll(open(file))).toHaveLength(1);

    const young = await collectBlobGarbage({ blobDir: temp.blobDir, logs: [file] });
    expect(young.removed).toEqual([]);
    expect(young.tooYoung).toBe(1);
    const old = (Date.now() - 2 * 3600_000) / 1000;
    utimesSync(path.join(temp.blobDir, orphanHash), old, old);

    const dry = await collectBlobGarbage({ blobDir: temp.blobDir, logs: [file], dryRun: true });
    expect(dry.removed).toEqual([{ hash: orphanHash, bytes: 5000 }]);
    expect(existsSync(path.join(temp.blobDir, orphanHash))).toBe(true);
    const done = await collectBlobGarbage({ blobDir: temp.blobDir, logs: [file] });
    expect(done).toMatchObject({ referenced: 1, kept: 1, removedBytes: 5000 });
    expect(existsSync(path.join(temp.blobDir, orphanHash))).toBe(false);
    expect(existsSync(path.join(temp.blobDir, 'notes.txt'))).toBe(true);
    expect((await readAll(open(file)))[0]?.img).toBe(imageDataUri(9000, 5));
  });

  it('a crash after the blob is durable and before its line leaves an orphan that gc collects', async () => {
    const file = path.join(temp.dir, 'crash.jsonl');
    const first = open(file);
    first.append({ type: 'kept', img: imageDataUri(9000, 11) });
    await first.close();
    // The blob goes to disk, then the line write dies: what a crash between the two leaves.
    const faults = new FaultyFileSystem();
    const dying = new FileSystemAgentRecordPersistence<Rec>(file, {
      blobs: { dir: temp.blobDir },
      fileOperations: faults.ops,
      lock: false,
      onError: () => {},
    });
    faults.fail('write', ioError('EIO', 'write'), { onlyPath: (p) => p === file });
    dying.append({ type: 'lost', img: imageDataUri(9000, 12) });
    await expect(dying.flush()).rejects.toThrow();
    expect(readdirSync(temp.blobDir).filter((n) => !n.startsWith('.'))).toHaveLength(2);
    const records = await readAll(open(file));
    expect(records.map((r) => r.type)).toEqual(['kept']); // the orphan is harmless
    const old = (Date.now() - 2 * 3600_000) / 1000;
    for (const name of readdirSync(temp.blobDir))
      utimesSync(path.join(temp.blobDir, name), old, old);
    const report = await collectBlobGarbage({ blobDir: temp.blobDir, logs: [file] });
    expect(report).toMatchObject({ referenced: 1, kept: 1 });
    expect(report.removed).toHaveLength(1);
    expect((await readAll(open(file)))[0]?.img).toBe(imageDataUri(9000, 11));
  });

  it('the store collects blobs no session references any more', async () => {
    const store = new FileSystemAgentRecordStore(path.join(temp.dir, 'root'), {
      blobs: { dir: path.join(temp.dir, 'root', 'blobs') },
    });
    const a = store.open<Rec>('a');
    a.append({ type: 'x', img: imageDataUri(9000, 7) } as Rec);
    await a.close();
    const b = store.open<Rec>('b');
    b.append({ type: 'x', img: imageDataUri(9000, 8) } as Rec);
    await b.close();
    await store.delete('b');
    const report = await store.collectBlobGarbage({ minAgeMs: 0 });
    expect(report).toMatchObject({ referenced: 1, kept: 1 });
    expect(report.removed).toHaveLength(1);
    const reopened = store.open('a');
    const [record] = await (async () => {
      const out: Rec[] = [];
      for await (const r of reopened.read()) out.push(r as Rec);
      return out;
    })();
    expect(record?.img).toBe(imageDataUri(9000, 7));
  });

  it('rewrites keep blobs out of line too', async () => {
    const file = path.join(temp.dir, 'rewrite.jsonl');
    const persistence = open(file);
    persistence.append({ type: 'a' });
    await persistence.flush();
    persistence.rewrite([{ type: 'b', img: imageDataUri(12_000, 9) }]);
    await persistence.close();
    expect(readFileSync(file, 'utf8')).toMatch(
      /^\{"type":"b","img":"blobref:image\/png;[0-9a-f]{64}"\}\n$/,
    );
    expect((await readAll(open(file)))[0]?.img).toBe(imageDataUri(12_000, 9));
  });
});
