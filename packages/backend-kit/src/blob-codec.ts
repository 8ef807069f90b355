import { createHash } from 'node:crypto';

/**
 * The storage-agnostic half of large payloads (DESIGN "Large payloads (blobs)"): which strings
 * of a record move out of line, the reference that replaces them, the escape for host strings
 * that look like one, and putting them back. Where the bytes live (files, a table, a bucket) is
 * the backend's part.
 */

/** `data:` strings longer than this many characters move out of line unless told otherwise. */
export const DEFAULT_BLOB_THRESHOLD = 4096;
/** Characters of base64 a `BlobCache` keeps unless told otherwise (16 MiB). */
export const DEFAULT_BLOB_CACHE_CHARS = 16 * 1024 * 1024;
/** What every blob reference (and every escaped host string) starts with. */
export const BLOB_REF_PREFIX = 'blobref:';
/**
 * How a host string that itself starts with `blobref:` is written: `blobref:~` + the rest. `~`
 * can never start a reference (a mime type starts with a letter, digit or one of `!#$&^_.+-`),
 * so an escaped string is never read as a reference, and a reference never as an escape.
 */
export const ESCAPED_BLOB_REF_PREFIX = 'blobref:~';

const DATA_URI = /^data:([A-Za-z0-9!#$&^_.+-]+\/[A-Za-z0-9!#$&^_.+-]+);base64,/;
const BLOB_REF = /^blobref:([^;]*);(.*)$/;
const HASH = /^[0-9a-f]{64}$/;
/** Last data characters whose unused low bits are zero, before `==` and before `=`. */
const BEFORE_TWO_PADS = 'AQgw';
const BEFORE_ONE_PAD = 'AEIMQUYcgkosw048';

/** Whether `hash` is a sha256 in lowercase hex: the only names a blob store may derive a key from. */
export function isBlobHash(hash: string): boolean {
  return HASH.test(hash);
}

/**
 * The bytes of `value` from `start` on when that text is base64 exactly as
 * `Buffer#toString('base64')` writes it (so re-encoding them gives back the same text), else
 * null. Canonical means: a length that is a multiple of four, `=` only as the last one or two
 * characters with zero unused bits before them, and nothing but the standard alphabet. The last
 * one is proved without a scan of our own: Node's decoder skips any other ASCII character and
 * stops at a stray `=`, so a full-length result means every character was a digit; the
 * URL-safe `-` and `_` (which it also accepts) and non-ASCII characters (which it truncates to a
 * byte) are ruled out first by fast native searches. The property test checks this against a
 * real decode and re-encode; it costs about 1 ms per 4 MB on top of the decode, where a regex
 * scan costs 5-10 ms and a re-encode makes a second full copy.
 */
export function decodeCanonicalBase64(value: string, start: number): Buffer | null {
  const length = value.length - start;
  if (length % 4 !== 0) return null;
  let end = value.length;
  if (end > start && value.charCodeAt(end - 1) === 0x3d) end--;
  if (end > start && value.charCodeAt(end - 1) === 0x3d) end--;
  const pads = value.length - end;
  if (pads > 0) {
    if (end === start) return null;
    if (!(pads === 2 ? BEFORE_TWO_PADS : BEFORE_ONE_PAD).includes(value.charAt(end - 1))) {
      return null;
    }
  }
  if (value.indexOf('-', start) !== -1 || value.indexOf('_', start) !== -1) return null;
  const payload = start === 0 ? value : value.slice(start);
  if (Buffer.byteLength(payload, 'utf8') !== length) return null; // a non-ASCII character
  const bytes = Buffer.from(payload, 'base64');
  return bytes.length === (length / 4) * 3 - pads ? bytes : null;
}

/** Whether `value` from `start` on is canonical base64 (see `decodeCanonicalBase64`). */
export function isCanonicalBase64(value: string, start: number): boolean {
  return decodeCanonicalBase64(value, start) !== null;
}

/** A `data:` string that moves out of line: its mime type, decoded bytes and their sha256. */
export interface DataUriBlob {
  mime: string;
  /** sha256 of `bytes`, lowercase hex: the blob's key and the reference's second half. */
  hash: string;
  bytes: Buffer;
  /** The payload text; re-encoding `bytes` gives exactly this. */
  base64: string;
  /** `blobref:<mime>;<hash>`, what the line holds instead. */
  ref: string;
}

/**
 * The blob in `value` when it is a `data:<mime>;base64,` string longer than `threshold`
 * characters whose payload is canonical base64 (so the text read back is the very text
 * appended, and one hash always stands for one text); null for anything else, which stays inline.
 */
export function dataUriBlob(value: string, threshold: number): DataUriBlob | null {
  if (value.length <= threshold || !value.startsWith('data:')) return null;
  const match = DATA_URI.exec(value);
  const bytes = match ? decodeCanonicalBase64(value, match[0].length) : null;
  if (!match || !bytes) return null;
  const mime = match[1] as string;
  const hash = createHash('sha256').update(bytes).digest('hex');
  const base64 = value.slice(match[0].length);
  return { mime, hash, bytes, base64, ref: `${BLOB_REF_PREFIX}${mime};${hash}` };
}

/** A host string as written: one that starts with `blobref:` is escaped, anything else is itself. */
export function escapeBlobRefLookalike(value: string): string {
  return value.startsWith(BLOB_REF_PREFIX)
    ? ESCAPED_BLOB_REF_PREFIX + value.slice(BLOB_REF_PREFIX.length)
    : value;
}

/**
 * A `JSON.stringify` replacer (for `serializeRecord`) that escapes host strings starting with
 * `blobref:` and hands each large canonical data URI to `onBlob` (which keeps its bytes until
 * they are stored), writing its reference instead. The host's object is never touched.
 */
export function blobReplacer(
  threshold: number,
  onBlob: (blob: DataUriBlob) => void,
): (key: string, value: unknown) => unknown {
  return (_key, value) => {
    if (typeof value !== 'string') return value;
    if (value.startsWith(BLOB_REF_PREFIX)) return escapeBlobRefLookalike(value);
    const blob = dataUriBlob(value, threshold);
    if (blob === null) return value;
    onBlob(blob);
    return blob.ref;
  };
}

/** What a string starting with `blobref:` found in a stored record stands for. */
export type ParsedBlobRef =
  /** An escaped host string: `text` is the host's string as it was appended. */
  | { kind: 'escaped'; text: string }
  | { kind: 'ref'; mime: string; hash: string }
  /** Neither (a crafted or damaged reference): leave it as it is and warn. */
  | { kind: 'invalid' };

export function parseBlobRef(ref: string): ParsedBlobRef {
  if (ref.startsWith(ESCAPED_BLOB_REF_PREFIX)) {
    return { kind: 'escaped', text: BLOB_REF_PREFIX + ref.slice(ESCAPED_BLOB_REF_PREFIX.length) };
  }
  const match = BLOB_REF.exec(ref);
  const hash = match?.[2] ?? '';
  if (!match || !HASH.test(hash)) return { kind: 'invalid' };
  return { kind: 'ref', mime: match[1] as string, hash };
}

/** The `data:` string a reference stands for, given its payload. */
export function dataUriOf(mime: string, base64: string): string {
  return `data:${mime};base64,${base64}`;
}

/** Adds every string of a parsed record (at any depth) that starts with `blobref:` to `into`. */
export function collectBlobRefs(value: unknown, into: Set<string>): void {
  if (typeof value === 'string') {
    if (value.startsWith(BLOB_REF_PREFIX)) into.add(value);
  } else if (Array.isArray(value)) {
    for (const item of value) collectBlobRefs(item, into);
  } else if (typeof value === 'object' && value !== null) {
    for (const key in value) collectBlobRefs((value as Record<string, unknown>)[key], into);
  }
}

/**
 * Replaces, in place, every string of a parsed record that is a key of `resolved` by its value;
 * returns `value` (the replacement itself when `value` is such a string).
 */
export function replaceBlobRefs(value: unknown, resolved: ReadonlyMap<string, string>): unknown {
  if (typeof value === 'string') return resolved.get(value) ?? value;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) value[i] = replaceBlobRefs(value[i], resolved);
  } else if (typeof value === 'object' && value !== null) {
    const object = value as Record<string, unknown>;
    for (const key in object) object[key] = replaceBlobRefs(object[key], resolved);
  }
  return value;
}

/**
 * Adds every blob hash a line (or many lines) of JSON text references to `into`, without
 * parsing it (gc's fast scan). An escaped host string shaped like a reference
 * (`blobref:~<mime>;<hash>`) also matches: at worst one blob is kept that nothing needs, never
 * one removed that something does.
 */
export function blobHashesInText(text: string, into: Set<string>): void {
  const pattern = /"blobref:[^;"]*;([0-9a-f]{64})"/g;
  for (const match of text.matchAll(pattern)) into.add(match[1] as string);
}

/**
 * Puts data URIs back into one parsed record, in place: each distinct `blobref:` string is
 * unescaped, or resolved through `load` (the store's part: the data URI, or null when the blob
 * cannot be had, and the reference stays), or handed to `onInvalid` and left as it is. Returns
 * the characters it added. Never throws unless `load` or `onInvalid` does.
 */
export async function restoreBlobRefs(
  record: unknown,
  load: (ref: { ref: string; mime: string; hash: string }) => Promise<string | null>,
  onInvalid: (ref: string) => void,
): Promise<number> {
  const refs = new Set<string>();
  collectBlobRefs(record, refs);
  if (refs.size === 0) return 0;
  const resolved = new Map<string, string>();
  let added = 0;
  for (const ref of refs) {
    const parsed = parseBlobRef(ref);
    let text: string | null;
    if (parsed.kind === 'escaped') text = parsed.text;
    else if (parsed.kind === 'ref')
      text = await load({ ref, mime: parsed.mime, hash: parsed.hash });
    else {
      onInvalid(ref);
      text = null;
    }
    if (text === null) continue;
    resolved.set(ref, text);
    added += text.length;
  }
  replaceBlobRefs(record, resolved);
  return added;
}

/**
 * Base64 of recently used blobs, by hash, bounded in characters, least recently used evicted
 * first. A blob bigger than a quarter of the bound is not kept, so one replay of many images
 * stays lean.
 */
export class BlobCache {
  readonly maxChars: number;
  #entries = new Map<string, string>();
  #chars = 0;

  constructor(maxChars: number = DEFAULT_BLOB_CACHE_CHARS) {
    this.maxChars = maxChars;
  }

  /** Characters held now. */
  get chars(): number {
    return this.#chars;
  }

  /** The payload of `hash`, marked as just used; undefined when not held. */
  get(hash: string): string | undefined {
    const cached = this.#entries.get(hash);
    if (cached !== undefined) {
      this.#entries.delete(hash);
      this.#entries.set(hash, cached);
    }
    return cached;
  }

  /** Keeps `base64` as the most recently used, evicting the least recently used beyond the bound. */
  remember(hash: string, base64: string): void {
    if (base64.length > this.maxChars / 4) return;
    const previous = this.#entries.get(hash);
    if (previous !== undefined) {
      this.#entries.delete(hash);
      this.#chars -= previous.length;
    }
    this.#entries.set(hash, base64);
    this.#chars += base64.length;
    for (const [oldest, entry] of this.#entries) {
      if (this.#chars <= this.maxChars) break;
      this.#entries.delete(oldest);
      this.#chars -= entry.length;
    }
  }
}
