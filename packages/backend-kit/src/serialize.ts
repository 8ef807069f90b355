import { assertRecord, RecordsSerializeError, recordProblem } from '@agent-records/types';

const LINE_SEPARATORS = /[\u2028\u2029]/g;
/** The same, tested first: `replace` copied every line (~300 bytes a record) to change nothing. */
const HAS_LINE_SEPARATOR = /[\u2028\u2029]/;

/**
 * Serialises one record to a single line of JSON (no trailing newline), with U+2028 and U+2029
 * escaped so that no line-splitting reader can break it. `JSON.stringify` semantics, guarded:
 * throws `RecordsInvalidError` for a non-record and `RecordsSerializeError` for a
 * value whose serialisation throws (a cycle, a BigInt, a getter or Proxy trap that throws) or
 * does not come out as a record (a `toJSON` returning `undefined`, a number, or an object
 * without a string `type`; a `type` that is not an own enumerable property). Every line it
 * returns reads back as a record.
 *
 * An optional `replacer` works as in `JSON.stringify` (backends use it to move large values out
 * of line without copying the record); it must keep strings strings. A line it makes into a
 * non-record (drops `type`, makes `time` a string) is refused like any other; a line that is not
 * a record on its face (`type` not its first key) is then parsed back to be checked.
 */
export function serializeRecord(
  record: unknown,
  replacer?: (this: unknown, key: string, value: unknown) => unknown,
): string {
  assertRecord(record);
  const json = stringify(record, replacer);
  // The usual record (a record on its face, no separator to escape) is all this function does:
  // under V8's 81 bytecodes, it is optimised at its first budget tick (~1,300 appends) instead
  // of its fifth (~3,900), a compile that stalled the durable append it overlapped
  // (docs/decisions.md 12).
  if (typeof json === 'string' && readsAsRecord(json) && !HAS_LINE_SEPARATOR.test(json))
    return json;
  return checkedLine(record, json, replacer !== undefined);
}

function stringify(
  record: object,
  replacer: ((this: unknown, key: string, value: unknown) => unknown) | undefined,
): string | undefined {
  try {
    return JSON.stringify(record, replacer) as string | undefined;
  } catch (cause) {
    throw new RecordsSerializeError(typeOf(record), { cause });
  }
}

/**
 * The line of a record that is not one on its face, or that holds U+2028 or U+2029. The record's
 * own shape vouches for its line only when no replacer came between them.
 */
function checkedLine(record: object, json: string | undefined, replaced: boolean): string {
  if (typeof json !== 'string' || json.charCodeAt(0) !== OPEN_BRACE) {
    throw notARecord(
      record,
      `it serialises to ${json === undefined ? 'nothing' : `\`${json.slice(0, 20)}\``}, not an object`,
    );
  }
  // The normal path reads the answer off the line itself (no allocation); else a record whose
  // JSON is sure to hold the `type` and `time` just validated; only the rest (a toJSON, an
  // accessor, a replacer) is parsed back and checked.
  if (!readsAsRecord(json)) {
    let shapeKnown: boolean;
    try {
      shapeKnown = !replaced && keepsItsShape(record);
    } catch (cause) {
      throw new RecordsSerializeError(typeOf(record), { cause });
    }
    const problem = shapeKnown ? null : recordProblem(JSON.parse(json));
    if (problem !== null) throw notARecord(record, problem);
  }
  if (!HAS_LINE_SEPARATOR.test(json)) return json;
  return json.replace(LINE_SEPARATORS, (c) => (c === '\u2028' ? '\\u2028' : '\\u2029'));
}

function notARecord(record: unknown, problem: string): RecordsSerializeError {
  return new RecordsSerializeError(typeOf(record), {
    cause: new TypeError(`its JSON is not a record: ${problem}`),
  });
}

const OPEN_BRACE = 0x7b;

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const MINUS = 0x2d;
const TIME_KEY = ',"time":';

/**
 * True when `json` (one JSON object, as `JSON.stringify` writes it) is a record on its face: its
 * first key is `type` with a non-empty string, and `time` is a number right after it or as its
 * last key, or appears nowhere in the line (every number `JSON.stringify` writes is finite).
 * False only means "look closer". Allocates nothing: it runs for every record, where
 * `Object.getOwnPropertyDescriptor` cost two objects (~200 bytes) per append.
 */
export function readsAsRecord(json: string): boolean {
  if (!json.startsWith('{"type":"') || json.charCodeAt(9) === QUOTE) return false;
  let at = 9; // the type's first character
  for (;;) {
    const c = json.charCodeAt(at);
    if (Number.isNaN(c)) return false;
    if (c === QUOTE) break;
    at += c === BACKSLASH ? 2 : 1;
  }
  // `at` is the type's closing quote.
  if (json.startsWith(TIME_KEY, at + 1)) return isNumberStart(json.charCodeAt(at + 9));
  if (json.indexOf('"time"', at) === -1) return true;
  // Last: `...,"time":<number>}`. The character before the closing brace is not in a string, so
  // neither is the number that ends there, nor the key before it: the object's own `time`.
  let start = json.length - 2;
  while (start > at && isNumberPart(json.charCodeAt(start))) start--;
  return start < json.length - 2 && json.startsWith(TIME_KEY, start - 7);
}

const isNumberStart = (c: number) => c === MINUS || (c >= 0x30 && c <= 0x39);
/** Digits, `-`, `+`, `.`, `e`, `E`. */
const isNumberPart = (c: number) =>
  (c >= 0x30 && c <= 0x39) || c === MINUS || c === 0x2b || c === 0x2e || c === 0x65 || c === 0x45;

/**
 * True when `JSON.stringify(record)` is sure to hold the `type` and `time` just validated: no
 * `toJSON` anywhere on it, `type` an own enumerable data property, `time` absent or an own data
 * property. Anything else (a class with a getter, a Proxy-like accessor) takes the checked path.
 */
function keepsItsShape(record: object): boolean {
  if ('toJSON' in record) return false;
  const type = Object.getOwnPropertyDescriptor(record, 'type');
  if (type === undefined || !type.enumerable || !('value' in type)) return false;
  const time = Object.getOwnPropertyDescriptor(record, 'time');
  return time === undefined || (time.enumerable === true && 'value' in time);
}

function typeOf(record: unknown): string | undefined {
  try {
    const type = (record as { type?: unknown }).type;
    return typeof type === 'string' ? type : undefined;
  } catch {
    return undefined;
  }
}
