import { RecordsVersionError } from './errors.js';

/** A parsed `MAJOR.MINOR` protocol version. */
export interface ProtocolVersion {
  readonly major: number;
  readonly minor: number;
}

const VERSION_PATTERN = /^(\d{1,9})\.(\d{1,9})$/;

/**
 * Parses a `MAJOR.MINOR` protocol version such as `'1.10'`. Anything else (a number, `'1'`,
 * `'1.2.3'`, `'v1.0'`, signs or spaces) throws a {@link RecordsVersionError}.
 */
export function parseProtocolVersion(version: string): ProtocolVersion {
  const match = typeof version === 'string' ? VERSION_PATTERN.exec(version) : null;
  if (!match) {
    throw new RecordsVersionError(
      `Invalid protocol version ${formatValue(version)}: expected "MAJOR.MINOR" with decimal ` +
        'digits only, such as "1.0" or "2.13".',
    );
  }
  return { major: Number(match[1]), minor: Number(match[2]) };
}

/**
 * Compares two protocol versions numerically (`'1.10'` is after `'1.9'`). Returns a negative
 * number when `a` is older, 0 when equal, a positive number when `a` is newer.
 */
export function compareProtocolVersions(a: string, b: string): number {
  const left = parseProtocolVersion(a);
  const right = parseProtocolVersion(b);
  return left.major !== right.major ? left.major - right.major : left.minor - right.minor;
}

function formatValue(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  return `${String(value)} (a ${value === null ? 'null' : typeof value}, not a string)`;
}
