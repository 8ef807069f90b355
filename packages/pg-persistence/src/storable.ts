import { serializeRecord } from '@agent-records/backend-kit';
import { RecordsInvalidError, RecordsSerializeError } from '@agent-records/types';

/** PostgreSQL's first `timestamptz` (4714-11-24 00:00 UTC BC), in epoch ms. */
export const MIN_STORABLE_TIME = -210_866_803_200_000;
/** The last instant a JavaScript `Date` holds (275760-09-13); PostgreSQL's range goes further. */
export const MAX_STORABLE_TIME = 8.64e15;

/** A record as it goes into a row: its JSON line, and its `time` for the `time` column. */
export interface StorableRecord {
  line: string;
  time: number | null;
}

/**
 * A JSON `\uD800`-`\uDFFF` escape that is not an escaped backslash followed by `uD800`.
 * `JSON.stringify` writes surrogate pairs as the characters themselves and escapes only lone
 * surrogates, so any such escape in its output is a lone surrogate.
 */
const LONE_SURROGATE_ESCAPE = /(?<!\\)(?:\\\\)*\\ud[89a-f][0-9a-f]{2}/i;

/**
 * Serialises a record and checks that PostgreSQL can hold it, synchronously, so `append` can
 * refuse it on the caller's stack before anything is queued (a record the server refused later
 * would start a failure episode that retrying could never end). Throws
 * `RecordsSerializeError` for a lone surrogate (jsonb refuses it) and `RecordsInvalidError`
 * for a `time` outside what the `time` column (timestamptz, read back as a Date) can hold.
 */
export function storableRecord(record: unknown): StorableRecord {
  const line = serializeRecord(record);
  let type: string | undefined;
  let time: unknown;
  try {
    // Read once more (serializeRecord read them too); a getter that throws now is refused.
    ({ type, time } = record as { type: string; time?: unknown });
  } catch (cause) {
    throw new RecordsSerializeError(undefined, { cause });
  }
  if (line.includes('\\u')) {
    const found = LONE_SURROGATE_ESCAPE.exec(line);
    if (found) {
      const surrogate = found[0].slice(found[0].lastIndexOf('\\'));
      throw new RecordsSerializeError(type, {
        cause: new Error(
          `it holds a lone UTF-16 surrogate (${surrogate} at character ${found.index + found[0].length - 6} of its JSON), which PostgreSQL jsonb cannot store; make its strings well formed (String.prototype.toWellFormed() replaces lone surrogates with U+FFFD)`,
        ),
      });
    }
  }
  if (time === undefined) return { line, time: null };
  if (
    typeof time !== 'number' ||
    !Number.isFinite(time) ||
    time < MIN_STORABLE_TIME ||
    time > MAX_STORABLE_TIME
  ) {
    throw new RecordsInvalidError(
      type,
      `its \`time\` ${String(time)} is outside what PostgreSQL's time column can hold ` +
        `(${MIN_STORABLE_TIME} to ${MAX_STORABLE_TIME} epoch milliseconds, 4714 BC to 275760 AD); ` +
        'set `time` to epoch milliseconds (Date.now()) or leave it out',
    );
  }
  return { line, time };
}

/** A JSON `\u0000` escape (not an escaped backslash followed by `u0000`). */
const NUL_ESCAPE = /(?<!\\)((?:\\\\)*)\\u0000/g;

/**
 * jsonb cannot hold U+0000: a line with one is stored exactly in `record_json`, and in jsonb with
 * U+FFFD instead. Answers that jsonb text, or null when the line holds no U+0000 (the usual case).
 */
export function jsonbSubstitute(line: string): string | null {
  return line.includes('\\u0000') ? line.replace(NUL_ESCAPE, '$1\\ufffd') : null;
}

/**
 * True for a server error about the data of a row rather than the server or the connection:
 * SQLSTATE class 22 (data exception: a value out of range, an encoding, invalid JSON) and 54000/
 * 54001 (a record too large or too deeply nested). Such a batch is no failure episode: retrying
 * it would fail the same way for ever, so the writer isolates the row and refuses it alone.
 */
export function isDataRefusal(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return (
    typeof code === 'string' &&
    /^[0-9A-Z]{5}$/.test(code) &&
    (code.startsWith('22') || code === '54000' || code === '54001')
  );
}

/**
 * The `created_at` (epoch ms) of a log whose first record is `line`: the record's own when it is
 * a metadata record with one the `created_at` column can hold, else null (the row's first write
 * stands). Read only for the batch that writes a log's first row.
 */
export function metadataCreatedAt(line: string | undefined): number | null {
  if (line === undefined || !line.includes('"metadata"')) return null;
  const first = JSON.parse(line) as { type?: unknown; created_at?: unknown };
  const at = first.created_at;
  return first.type === 'metadata' &&
    typeof at === 'number' &&
    at >= MIN_STORABLE_TIME &&
    at <= MAX_STORABLE_TIME
    ? at
    : null;
}
