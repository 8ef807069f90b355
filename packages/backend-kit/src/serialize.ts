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
 * of line without copying the record); it must keep strings strings.
 */
export function serializeRecord(
  record: unknown,
  replacer?: (this: unknown, key: string, value: unknown) => unknown,
): string {
  assertRecord(record);
  let json: string | undefined;
  let shapeKnown: boolean;
  try {
    shapeKnown = keepsItsShape(record);
    json = JSON.stringify(record, replacer) as string | undefined;
  } catch (cause) {
    throw new RecordsSerializeError(typeOf(record), { cause });
  }
  // The normal path (a plain record) costs two property lookups; only a record whose JSON may
  // differ from what was validated (a toJSON, an accessor) is parsed back and checked.
  const problem =
    typeof json !== 'string' || json.charCodeAt(0) !== OPEN_BRACE
      ? `it serialises to ${json === undefined ? 'nothing' : `\`${json.slice(0, 20)}\``}, not an object`
      : shapeKnown
        ? null
        : recordProblem(JSON.parse(json));
  if (problem !== null) {
    throw new RecordsSerializeError(typeOf(record), {
      cause: new TypeError(`its JSON is not a record: ${problem}`),
    });
  }
  if (!HAS_LINE_SEPARATOR.test(json as string)) return json as string;
  return (json as string).replace(LINE_SEPARATORS, (c) => (c === '\u2028' ? '\\u2028' : '\\u2029'));
}

const OPEN_BRACE = 0x7b;

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
