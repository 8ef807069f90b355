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
