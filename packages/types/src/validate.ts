import { RecordsInvalidError, RecordsSerializeError } from './errors.js';
import type { AgentRecordEnvelope } from './records.js';

/**
 * The one rule for "what is a record", used by the core, every backend's reader and the CLI:
 * a plain object (not an array) with a non-empty string `type` and, when present, a finite
 * numeric `time`. Returns why `value` is not a record, or `null` when it is one. Reading `type`
 * and `time` is guarded: a property that throws on access makes the value not a record.
 */
export function recordProblem(value: unknown): string | null {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    const what = Array.isArray(value) ? 'an array' : value === null ? 'null' : typeof value;
    return `expected an object, got ${what}`;
  }
  let type: unknown;
  let time: unknown;
  try {
    ({ type, time } = value as { type?: unknown; time?: unknown });
  } catch (error) {
    return `reading its \`type\` or \`time\` threw (${error instanceof Error ? error.message : String(error)})`;
  }
  if (typeof type !== 'string' || type.length === 0) {
    return type === undefined
      ? 'it has no `type`'
      : `its \`type\` is ${describe(type)}, not a string`;
  }
  if (time !== undefined && (typeof time !== 'number' || !Number.isFinite(time))) {
    return `its \`time\` is ${describe(time)}, not a finite number`;
  }
  return null;
}

/**
 * Throws {@link RecordsInvalidError} unless `value` is a record (see {@link recordProblem}).
 */
export function assertRecord(value: unknown): asserts value is AgentRecordEnvelope {
  const problem = recordProblem(value);
  if (problem === null) return;
  let type: string | undefined;
  try {
    const t = (value as { type?: unknown } | null)?.type;
    if (typeof t === 'string' && t.length > 0) type = t;
  } catch {
    type = undefined;
  }
  throw new RecordsInvalidError(type, problem);
}

const LINE_SEPARATORS = /[\u2028\u2029]/g;

/**
 * Serialises one record to a single line of JSON (no trailing newline), with U+2028 and U+2029
 * escaped so that no line-splitting reader can break it. `JSON.stringify` semantics, guarded:
 * throws {@link RecordsInvalidError} for a non-record and {@link RecordsSerializeError} for a
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

function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number') return String(value);
  return value === null ? 'null' : `a ${typeof value}`;
}
