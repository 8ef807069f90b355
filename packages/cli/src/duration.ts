import { CliError, EXIT } from './errors.js';

const UNIT_MS = { ms: 1, s: 1e3, m: 60e3, h: 3600e3, d: 86400e3 } as const;
const DURATION_PART = /(\d+(?:\.\d+)?)(ms|s|m|h|d)/y;

/**
 * The one duration parser of the CLI, in milliseconds: `90s`, `10m`, `1h30m`, `2d`, `250ms`, or
 * a bare number of seconds (`3600` is an hour, never 3.6 seconds).
 */
export function parseDuration(value: string): number {
  const duration = tryParseDuration(value);
  if (duration === null) {
    throw new CliError(
      `${JSON.stringify(value)} is not a duration: use seconds (3600) or units such as 30s, ` +
        '10m, 1h30m or 2d.',
      EXIT.usage,
    );
  }
  return duration;
}

/** {@link parseDuration} without the bare-seconds form, or null when `value` is not a duration. */
function tryParseDuration(value: string, bareSeconds = true): number | null {
  const text = value.trim();
  if (/^\d+(?:\.\d+)?$/.test(text)) return bareSeconds ? Number(text) * UNIT_MS.s : null;
  let total = 0;
  let at = 0;
  while (text.length > 0 && at < text.length) {
    DURATION_PART.lastIndex = at;
    const part = DURATION_PART.exec(text);
    if (!part) break;
    total += Number(part[1]) * UNIT_MS[part[2] as keyof typeof UNIT_MS];
    at = DURATION_PART.lastIndex;
  }
  return text.length === 0 || at < text.length ? null : total;
}

/**
 * Parses a point in time for `--since`/`--until`: an ISO date/time, epoch milliseconds (a bare
 * number: a time, not a duration, here), or a duration ago (`90s`, `15m`, `1h30m`, `3d`, through
 * the one duration parser).
 */
export function parseTime(value: string, option: string, now = Date.now()): number {
  const ago = tryParseDuration(value, false);
  if (ago !== null) return now - ago;
  if (/^\d+$/.test(value.trim())) return Number(value);
  const parsed = Date.parse(value);
  if (Number.isNaN(parsed)) {
    throw new CliError(
      `${option} ${JSON.stringify(value)}: not a time. Use an ISO date (2026-11-25T07:00:00Z), epoch ms, or a duration such as 15m.`,
      EXIT.usage,
    );
  }
  return parsed;
}
