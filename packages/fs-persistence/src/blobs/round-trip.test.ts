import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { AgentRecordEnvelope, RecordsErrorInfo } from '@agent-records/types';
import { describe, expect, it } from 'vitest';
import { useBlobFolders } from '../../test/blob-fixtures.js';
import { readAll } from '../../test/read-all.js';
import { FileSystemAgentRecordPersistence } from '../fs-persistence.js';

type Rec = AgentRecordEnvelope & Record<string, unknown>;
const temp = useBlobFolders('blobs-exact-');

const PREFIX = 'data:image/png;base64,';
const bytesOf = (length: number, seed: number) => {
  const data = Buffer.alloc(length);
  for (let i = 0; i < length; i++) data[i] = (i * 37 + seed * 11) % 256;
  return data;
};
const base64Of = (length: number, seed: number) => bytesOf(length, seed).toString('base64');

function open(file: string, reports: Array<[string, string]> = []) {
  return new FileSystemAgentRecordPersistence<Rec>(file, {
    blobs: { dir: temp.blobDir, threshold: 4096 },
    onError: (error: Error, info: RecordsErrorInfo) => reports.push([info.kind, error.message]),
  });
}

const blobNames = () => {
  try {
    return readdirSync(temp.blobDir).filter((name) => !name.startsWith('.'));
  } catch {
    return [];
  }
};

describe('blobs: exact round trip', () => {
  it('gives back line-wrapped, URL-safe, trailing-text and non-base64 data URIs exactly as appended', async () => {
    const canonical = base64Of(6000, 1);
    const wrapped = canonical.replace(/(.{76})/g, '$1\n'); // MIME-style line breaks
    const urlSafe = base64Of(6000, 2).replace(/\+/g, '-').replace(/\//g, '_');
    const unpadded = base64Of(6001, 3).replace(/=+$/, '');
    // Non-zero unused bits before the padding: decodes to the same bytes as another text.
    const loosePadding = `${base64Of(6001, 4).slice(0, -3)}${'B'}==`;
    const values = {
      wrapped: `${PREFIX}${wrapped}`,
      urlSafe: `${PREFIX}${urlSafe}`,
      trailingText: `${PREFIX}${canonical} -- the screenshot above`,
      unpadded: `${PREFIX}${unpadded}`,
      loosePadding: `${PREFIX}${loosePadding}`,
      notBase64: `${PREFIX}${'this is not base64 at all; '.repeat(200)}`,
      spaces: `${PREFIX}${canonical.slice(0, 3000)} ${canonical.slice(3000)}`,
      // 'ń' is U+0144: Node's decoder reads its low byte, 'D'.
      wideChar: `${PREFIX}${canonical.slice(0, 3000)}ń${canonical.slice(3001)}`,
    };
    expect(values.urlSafe).not.toBe(`${PREFIX}${base64Of(6000, 2)}`); // the sample has + or /
    const file = path.join(temp.dir, 'variants.jsonl');
    const writer = open(file);
    writer.append({ type: 'variants', ...values });
    expect((await readAll(writer))[0]).toEqual({ type: 'variants', ...values });
    await writer.close();

    expect((await readAll(open(file)))[0]).toEqual({ type: 'variants', ...values });
    expect(readFileSync(file, 'utf8')).not.toContain('blobref:'); // all of them stayed inline
    expect(blobNames()).toEqual([]);
  });

  it('still moves canonical base64 of every padding length out of line', async () => {
    const file = path.join(temp.dir, 'canonical.jsonl');
    const values = [6000, 6001, 6002].map((n) => `${PREFIX}${base64Of(n, n)}`);
    const writer = open(file);
    writer.append({ type: 'x', values });
    await writer.close();
    expect(readFileSync(file, 'utf8')).not.toContain('base64,');
    expect(blobNames()).toHaveLength(3);
    expect((await readAll(open(file)))[0]?.values).toEqual(values);
  });

  it('gives back two data URIs with the same bytes but different text each exactly as appended', async () => {
    const clean = `${PREFIX}${base64Of(6000, 7)}`;
    const wrapped = `${PREFIX}${base64Of(6000, 7).replace(/(.{64})/g, '$1\r\n')}`;
    const file = path.join(temp.dir, 'twins.jsonl');
    const writer = open(file);
    writer.append({ type: 'a', img: wrapped });
    writer.append({ type: 'b', img: clean });
    writer.append({ type: 'c', img: wrapped });
    const expected = [
      { type: 'a', img: wrapped },
      { type: 'b', img: clean },
      { type: 'c', img: wrapped },
    ];
    expect(await readAll(writer)).toEqual(expected); // through the writer's cache
    await writer.flush();
    expect(await readAll(writer)).toEqual(expected);
    await writer.close();
    expect(await readAll(open(file))).toEqual(expected); // through a fresh reader
  });

  it('gives back a host string that starts with blobref: as it was, even one naming a stored blob', async () => {
    const image = `${PREFIX}${base64Of(6000, 9)}`;
    const hash = createHash('sha256').update(bytesOf(6000, 9)).digest('hex');
    const lookalike = `blobref:image/png;${hash}`;
    const hostStrings = [
      lookalike,
      'blobref:',
      'blobref:~image/png;abc',
      'blobref:~~',
      'blobref:not a ref at all',
      `blobref:image/png;${'A'.repeat(64)}`,
    ];
    const file = path.join(temp.dir, 'lookalike.jsonl');
    const reports: Array<[string, string]> = [];
    const writer = open(file, reports);
    writer.append({ type: 'image', img: image });
    writer.append({ type: 'text', hostStrings, nested: [{ s: lookalike }] });
    const expected = [
      { type: 'image', img: image },
      { type: 'text', hostStrings, nested: [{ s: lookalike }] },
    ];
    expect(await readAll(writer)).toEqual(expected);
    await writer.flush();
    writer.rewrite(expected); // a rewrite not yet written reads back the same
    expect(await readAll(writer)).toEqual(expected);
    await writer.close();
    expect(await readAll(open(file, reports))).toEqual(expected);
    expect(reports).toEqual([]); // an escaped host string is not a reference: no warning
    expect(blobNames()).toEqual([hash]);
  });

  it('reads references of a log written before escapes existed the same as before', async () => {
    const bytes = bytesOf(6000, 12);
    const hash = createHash('sha256').update(bytes).digest('hex');
    const writer = open(path.join(temp.dir, 'seed.jsonl'));
    writer.append({ type: 'seed', img: `${PREFIX}${bytes.toString('base64')}` });
    await writer.close();
    const file = path.join(temp.dir, 'old.jsonl');
    writeFileSync(
      file,
      `${JSON.stringify({ type: 'old', img: `blobref:image/png;${hash}`, note: 'blobref:' })}\n`,
    );
    const [record] = await readAll(open(file));
    expect(record).toEqual({
      type: 'old',
      img: `${PREFIX}${bytes.toString('base64')}`,
      note: 'blobref:',
    });
  });
});
