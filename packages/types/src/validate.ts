import { RecordsInvalidError } from './errors.js';
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
    if (type === undefined) return 'it has no `type`';
    return type === ''
      ? 'its `type` is "", an empty string: name the record type'
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

function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number') return String(value);
  if (value === null) return 'null';
  const kind = Array.isArray(value) ? 'array' : typeof value;
  return /^[aeiou]/.test(kind) ? `an ${kind}` : `a ${kind}`;
}
