import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  BlobCache,
  blobHashesInText,
  blobReplacer,
  type DataUriBlob,
  dataUriBlob,
  isBlobHash,
  isCanonicalBase64,
  parseBlobRef,
  restoreBlobRefs,
} from './blob-codec.js';
import { serializeRecord } from './serialize.js';

const PREFIX = 'data:image/png;base64,';
const bytesOf = (length: number, seed: number) => {
  const data = Buffer.alloc(length);
  for (let i = 0; i < length; i++) data[i] = (i * 37 + seed * 11) % 256;
  return data;
};
const base64Of = (length: number, seed: number) => bytesOf(length, seed).toString('base64');
const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

describe('blob codec', () => {
  it('moves out only a canonical data URI longer than the threshold, named by the sha256 of its bytes', () => {
    const bytes = bytesOf(3000, 1);
    const uri = `${PREFIX}${bytes.toString('base64')}`;
    expect(dataUriBlob(uri, uri.length)).toBeNull(); // not longer than the threshold
    const blob = dataUriBlob(uri, uri.length - 1);
    expect(blob).toMatchObject({ mime: 'image/png', hash: sha256(bytes), base64: uri.slice(22) });
    expect(blob?.bytes.equals(bytes)).toBe(true);
    expect(blob?.ref).toBe(`blobref:image/png;${sha256(bytes)}`);
    const canonical = base64Of(6000, 2);
    for (const inline of [
      `${PREFIX}${canonical.replace(/(.{76})/g, '$1\n')}`,
      `${PREFIX}${base64Of(6000, 3).replace(/\+/g, '-').replace(/\//g, '_')}`,
      `${PREFIX}${canonical} -- the screenshot above`,
      `${PREFIX}${base64Of(6001, 4).replace(/=+$/, '')}`,
      `${PREFIX}${'this is not base64 at all; '.repeat(200)}`,
      `data:image/png,${canonical}`,
      `data:;base64,${canonical}`,
    ]) {
      expect(dataUriBlob(inline, 100)).toBeNull();
    }
  });

  it('decides a canonical payload exactly as a decode and re-encode would', () => {
    // The standard alphabet, padding, URL-safe digits, white space, Latin-1 and characters whose
    // low byte is a base64 digit (Node's decoder truncates them).
    const alphabet =
      'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=-_ \n\r\t.\u0000Á\u00ffńŁ\u2b41😀';
    const mutated = fc
      .tuple(
        fc.uint8Array({ maxLength: 40 }),
        fc.array(fc.tuple(fc.nat(), fc.constantFrom(...Array.from(alphabet))), { maxLength: 3 }),
        fc.nat(3),
      )
      .map(([bytes, edits, cut]) => {
        const chars = Buffer.from(bytes).toString('base64').split('');
        for (const [at, char] of edits) chars[at % (chars.length + 1)] = char;
        return chars.join('').slice(0, cut === 0 ? undefined : -cut);
      });
    fc.assert(
      fc.property(
        fc.oneof(
          mutated,
          fc.string({ maxLength: 12 }),
          fc.string({ unit: 'binary', maxLength: 12 }),
        ),
        (payload) => {
          const text = `${PREFIX}${payload}`;
          const exact = Buffer.from(payload, 'base64').toString('base64') === payload;
          expect(isCanonicalBase64(text, PREFIX.length)).toBe(exact);
        },
      ),
      { numRuns: 3000 },
    );
  });

  it('the replacer escapes host strings starting with blobref: and restoring gives every string back as it was', async () => {
    const image = `${PREFIX}${base64Of(6000, 9)}`;
    const hash = sha256(bytesOf(6000, 9));
    const hostStrings = [
      `blobref:image/png;${hash}`,
      'blobref:',
      'blobref:~image/png;abc',
      'blobref:~~',
      'blobref:not a ref at all',
    ];
    const record = { type: 'x', img: image, hostStrings, nested: [{ s: hostStrings[0] }] };
    const before = JSON.stringify(record);
    const blobs: DataUriBlob[] = [];
    const line = serializeRecord(
      record,
      blobReplacer(4096, (blob) => blobs.push(blob)),
    );
    expect(JSON.stringify(record)).toBe(before); // the host's object is not touched
    expect(blobs.map((blob) => blob.hash)).toEqual([hash]);
    expect(line).not.toContain('base64,');
    expect(line).toContain(`"img":"blobref:image/png;${hash}"`);
    expect(line).toContain(`"blobref:~image/png;${hash}"`);
    const stored = new Map([[hash, blobs[0]?.base64 as string]]);
    const parsed = JSON.parse(line);
    const loaded: string[] = [];
    const added = await restoreBlobRefs(
      parsed,
      async ({ mime, hash: wanted }) => {
        loaded.push(wanted);
        const base64 = stored.get(wanted);
        return base64 === undefined ? null : `data:${mime};base64,${base64}`;
      },
      (ref) => {
        throw new Error(`no reference here is invalid: ${ref}`);
      },
    );
    expect(parsed).toEqual(record);
    expect(loaded).toEqual([hash]); // an escaped look-alike is never loaded
    expect(added).toBeGreaterThan(image.length);
  });

  it('restoring leaves a reference it cannot load or that is invalid as it is, and names the invalid ones', async () => {
    const missing = `blobref:image/png;${'0'.repeat(64)}`;
    const crafted = [
      'blobref:image/png;../../etc/passwd',
      'blobref:image/png;/etc/passwd',
      `blobref:image/png;${'A'.repeat(64)}`,
      `blobref:image/png;${'a'.repeat(63)}`,
      'blobref:noseparator',
    ];
    const record = { type: 'x', missing, crafted };
    const invalid: string[] = [];
    const added = await restoreBlobRefs(
      record,
      async () => null,
      (ref) => invalid.push(ref),
    );
    expect(added).toBe(0);
    expect(record).toEqual({ type: 'x', missing, crafted: [...crafted] });
    expect(invalid).toEqual(crafted);
    for (const ref of crafted) expect(parseBlobRef(ref)).toEqual({ kind: 'invalid' });
  });

  it('accepts only 64 lowercase hex characters as a blob hash', () => {
    expect(isBlobHash('ab'.repeat(32))).toBe(true);
    for (const bad of ['AB'.repeat(32), 'ab'.repeat(31), `${'ab'.repeat(32)}0`, '../x', ''])
      expect(isBlobHash(bad)).toBe(false);
  });

  it('finds every referenced hash in JSON text without parsing it', () => {
    const a = 'a'.repeat(64);
    const b = 'b'.repeat(64);
    const text = `{"x":"blobref:image/png;${a}","y":["blobref:text/plain;${b}"]}\n{"z":"blobref:x;short"}`;
    const found = new Set<string>();
    blobHashesInText(text, found);
    expect([...found].sort()).toEqual([a, b]);
  });

  it('the cache stays within its bound, evicting the least recently used first and never keeping a quarter-bound blob', () => {
    const cache = new BlobCache(100);
    cache.remember('a', 'x'.repeat(25));
    cache.remember('b', 'y'.repeat(25));
    cache.remember('c', 'z'.repeat(25));
    expect(cache.get('a')).toBe('x'.repeat(25)); // a is now the most recently used
    cache.remember('d', 'w'.repeat(25));
    cache.remember('e', 'v'.repeat(25)); // over 100: b, the least recently used, goes
    expect(cache.chars).toBeLessThanOrEqual(100);
    expect(cache.get('b')).toBeUndefined();
    expect(cache.get('a')).toBeDefined();
    cache.remember('big', 'q'.repeat(26));
    expect(cache.get('big')).toBeUndefined();
    cache.remember('a', 'x'.repeat(10)); // the same hash again replaces, never counts twice
    expect(cache.chars).toBe(10 + 25 + 25 + 25);
  });
});
