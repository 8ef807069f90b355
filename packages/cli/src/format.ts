import type { CliIo } from './io.js';

/** `1 record`, `2 records`; `plural` for words whose plural is not `word + s`. */
export function count(n: number, word: string, plural = `${word}s`): string {
  return `${n} ${n === 1 ? word : plural}`;
}

/** Bytes in binary units with their true names: B, KiB, MiB, GiB. */
export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 2 ** 20) return `${(bytes / 1024).toFixed(1)} KiB`;
  if (bytes < 2 ** 30) return `${(bytes / 2 ** 20).toFixed(1)} MiB`;
  return `${(bytes / 2 ** 30).toFixed(1)} GiB`;
}

/** Whether to colour output: only on a terminal, and never when `NO_COLOR` is set (no-color.org). */
export function useColour(io: CliIo): boolean {
  const noColor = io.env.NO_COLOR;
  return io.isTTY && (noColor === undefined || noColor === '');
}

export type Paint = (text: string, colour: 'red' | 'yellow' | 'green' | 'dim' | 'bold') => string;

const CODES = { red: 31, yellow: 33, green: 32, dim: 2, bold: 1 } as const;

/** A painter that colours only when {@link useColour} says so. */
export function painter(io: CliIo): Paint {
  if (!useColour(io)) return (text) => text;
  return (text, colour) => `\x1b[${CODES[colour]}m${text}\x1b[0m`;
}

const AGE_UNITS = [
  ['d', 86_400_000],
  ['h', 3_600_000],
  ['m', 60_000],
  ['s', 1000],
] as const;

/**
 * How long ago `time` (epoch ms) was, for a column a person scans: `45s ago`, `12m ago`,
 * `3h ago`, `6d ago`; the ISO time (to the minute) beyond 30 days, or for a time ahead of the
 * clock (another machine's clock, or a bad value).
 */
export function formatAge(time: number, now: number = Date.now()): string {
  const ago = now - time;
  if (!Number.isFinite(ago)) return '-';
  if (ago < 0 || ago >= 30 * 86_400_000) {
    const date = new Date(time);
    return Number.isNaN(date.getTime())
      ? `${time} (epoch ms)`
      : `${date.toISOString().slice(0, 16)}Z`;
  }
  for (const [unit, ms] of AGE_UNITS) if (ago >= ms) return `${Math.floor(ago / ms)}${unit} ago`;
  return 'just now';
}
