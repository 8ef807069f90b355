import { RecordsInvalidSessionIdError } from './errors.js';
import { utf8ByteLength } from './utf8.js';

/**
 * The longest session id, in UTF-8 bytes, that every backend accepts. File names are limited to
 * 255 bytes on common file systems (ext4, xfs, btrfs, APFS, NTFS in UTF-16 units); a file-system
 * store derives several names from an id (log, lock, temp, side and summary files), so 80 bytes
 * are left for the longest suffix it appends. Backends without file names use the same bound so
 * that a session can move between backends under its id.
 */
export const MAX_SESSION_ID_BYTES = 175;

/**
 * The one rule for session ids, shared by every store: a non-empty string without path
 * separators (`/`, `\`), `..`, a leading `.`, NUL or other control characters, at most
 * `maxBytes` (default `MAX_SESSION_ID_BYTES`) in UTF-8. Returns why `id` is refused, or `null`
 * when it is a valid id.
 */
export function sessionIdProblem(id: unknown, options: { maxBytes?: number } = {}): string | null {
  if (typeof id !== 'string')
    return `it is ${id === null ? 'null' : `a ${typeof id}`}, not a string`;
  if (id.length === 0) return 'it is empty';
  if (/[/\\]/.test(id)) return 'it contains a path separator (/ or \\)';
  if (id.includes('..')) return 'it contains ".."';
  if (id.startsWith('.')) return 'it starts with "." (hidden and temporary files do)';
  // biome-ignore lint/suspicious/noControlCharactersInRegex: refusing them is the point
  if (/[\u0000-\u001f\u007f-\u009f]/.test(id))
    return 'it contains NUL or another control character';
  if (/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/.test(id)) {
    return 'it contains a lone surrogate (not valid Unicode, so no file name)';
  }
  const maxBytes = options.maxBytes ?? MAX_SESSION_ID_BYTES;
  const bytes = utf8ByteLength(id);
  if (bytes > maxBytes) {
    return `it is ${bytes} bytes in UTF-8, over the ${maxBytes} bytes that leave room for the files derived from it`;
  }
  return null;
}

/**
 * Throws `RecordsInvalidSessionIdError` (saying why) unless `id` passes {@link sessionIdProblem}:
 * what every store's `open()` and `delete()` do first.
 */
export function assertSessionId(
  id: unknown,
  options: { maxBytes?: number } = {},
): asserts id is string {
  const problem = sessionIdProblem(id, options);
  if (problem !== null) throw new RecordsInvalidSessionIdError(id, problem);
}
