import { RecordsInvalidError, RecordsSerializeError } from './errors.js';
import type { AgentRecordEnvelope } from './records.js';

/**
 * Throws {@link RecordsInvalidError} unless `value` is a record: a plain object (not an array)
 * with a string `type` and, when present, a finite numeric `time`.
 */
export function assertRecord(value: unknown): asserts value is AgentRecordEnvelope {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    const what = Array.isArray(value) ? 'an array' : value === null ? 'null' : typeof value;
    throw new RecordsInvalidError(undefined, `expected an object, got ${what}`);
  }
  const { type, time } = value as { type?: unknown; time?: unknown };
  if (typeof type !== 'string' || type.length === 0) {
    throw new RecordsInvalidError(
      undefined,
      type === undefined ? 'it has no `type`' : `its \`type\` is ${describe(type)}, not a string`,
    );
  }
  if (time !== undefined && (typeof time !== 'number' || !Number.isFinite(time))) {
    throw new RecordsInvalidError(type, `its \`time\` is ${describe(time)}, not a finite number`);
  }
}

const LINE_SEPARATORS = /[\u2028\u2029]/g;

/**
 * Serialises one record to a single line of JSON (no trailing newline), with U+2028 and U+2029
 * escaped so that no line-splitting reader can break it. Throws {@link RecordsInvalidError} for a
 * non-record and {@link RecordsSerializeError} for a value JSON cannot hold (a cycle, a BigInt).
 * An optional `replacer` works as in `JSON.stringify` (backends use it to move large values out
 * of line without copying the record).
 */
export function serializeRecord(
  record: unknown,
  replacer?: (this: unknown, key: string, value: unknown) => unknown,
): string {
  assertRecord(record);
  let json: string;
  try {
    json = JSON.stringify(record, replacer);
  } catch (cause) {
    throw new RecordsSerializeError(record.type, { cause });
  }
  return json.replace(LINE_SEPARATORS, (c) => (c === '\u2028' ? '\\u2028' : '\\u2029'));
}

function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number') return String(value);
  return value === null ? 'null' : `a ${typeof value}`;
}
