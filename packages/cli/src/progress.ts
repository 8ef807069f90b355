import type { Writable } from 'node:stream';

/** Logs bigger than this get a progress bar, when stderr is a terminal. */
const PROGRESS_MIN_BYTES = 4 * 1024 * 1024;

export interface Progress {
  update(bytes: number): void;
  done(): void;
}

const NONE: Progress = { update: () => {}, done: () => {} };

/**
 * A progress bar on `stream` (stderr) for a file of `total` bytes when that stream is a TTY;
 * otherwise nothing at all.
 */
export function progressFor(total: number, label: string, stream: Writable): Progress {
  if (!(stream as { isTTY?: boolean }).isTTY || total < PROGRESS_MIN_BYTES) return NONE;
  let last = 0;
  const draw = (bytes: number) => {
    const fraction = Math.min(1, bytes / total);
    const width = 30;
    const filled = Math.round(fraction * width);
    stream.write(
      `\r${label} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${Math.round(fraction * 100)}% ` +
        `${(bytes / 2 ** 20).toFixed(1)}/${(total / 2 ** 20).toFixed(1)} MiB`,
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
