import { statSync } from 'node:fs';

/** Logs bigger than this get a progress bar, when stderr is a terminal. */
const PROGRESS_MIN_BYTES = 4 * 1024 * 1024;

/** A progress bar on stderr for big files when stderr is a TTY; otherwise nothing at all. */
export function progressFor(file: string, label: string) {
  let total = 0;
  try {
    total = statSync(file).size;
  } catch {
    total = 0;
  }
  const stream = process.stderr;
  if (!stream.isTTY || total < PROGRESS_MIN_BYTES) {
    return { update: (_bytes: number) => {}, done: () => {} };
  }
  let last = 0;
  const draw = (bytes: number) => {
    const fraction = Math.min(1, bytes / total);
    const width = 30;
    const filled = Math.round(fraction * width);
    stream.write(
      `\r${label} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${Math.round(fraction * 100)}% ` +
        `${(bytes / 2 ** 20).toFixed(1)}/${(total / 2 ** 20).toFixed(1)} MB`,
    );
  };
  return {
    update(bytes: number) {
      const now = Date.now();
      if (now - last < 100) return;
      last = now;
      draw(bytes);
    },
    done() {
      stream.write('\r\x1b[2K');
    },
  };
}
