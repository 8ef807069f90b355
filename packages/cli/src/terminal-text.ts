/**
 * The CLI's one rule for text that came from a log (or from a file beside it: a summary's title,
 * a lock's host) on its way to a person's terminal. Agent logs hold text that others control
 * (web pages, tool output, model output), and a terminal obeys what it is sent: ESC ] 0 sets the
 * window title, ESC ] 52 writes the clipboard, ESC [ 2J clears the screen, U+009B is CSI on its
 * own, and a right-to-left override (U+202E) makes `invoice \u202eexe.pdf` show as
 * `invoice fdp.exe`.
 *
 * Unsafe: every control character (Unicode Cc: C0 U+0000-U+001F with tab and newline, DEL
 * U+007F, C1 U+0080-U+009F) and the bidirectional controls (marks, embeddings, overrides,
 * isolates). Zero-width joiners stay: emoji sequences need them.
 *
 * - Human views (`cat`/`tail` without `--json`, `inspect`, `stats`, `validate`, `sessions`,
 *   `repair`, `migrate`, and every message): {@link terminalText} shows each unsafe character
 *   as U+FFFD.
 * - JSON output (`cat`/`tail --json`, `inspect`/`stats`/`validate --json`):
 *   {@link terminalJson} writes each unsafe character inside a string as its `\uXXXX` escape
 *   (and a tab or carriage return between tokens as a space), so every line is the same JSON
 *   value, `jq` reads the same data, and no byte of it is a control or bidi character.
 *   `JSON.stringify` alone is not enough: it escapes C0 but leaves DEL, C1 and bidi controls raw.
 */
export const UNSAFE_FOR_TERMINAL = /[\p{Cc}\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/u;
const UNSAFE_ALL = new RegExp(UNSAFE_FOR_TERMINAL.source, 'gu');

/** `text` with each control and bidirectional control character shown as U+FFFD. */
export function terminalText(text: string): string {
  return UNSAFE_FOR_TERMINAL.test(text) ? text.replace(UNSAFE_ALL, '\ufffd') : text;
}

/**
 * A JSON text (one log line, or `JSON.stringify` output) with no control or bidi character left
 * raw, and the same JSON value: inside strings each becomes its `\uXXXX` escape; between tokens
 * (where JSON allows only space, tab, newline and carriage return) tab and carriage return
 * become a space and newline stays only in multi-line output (`keepNewlines`).
 */
export function terminalJson(json: string, options: { keepNewlines?: boolean } = {}): string {
  if (!UNSAFE_FOR_TERMINAL.test(json)) return json;
  let out = '';
  let inString = false;
  for (let i = 0; i < json.length; i++) {
    const char = json[i] as string;
    if (inString) {
      if (char === '\\') {
        out += char + (json[i + 1] ?? '');
        i++;
        continue;
      }
      if (char === '"') inString = false;
      out += UNSAFE_FOR_TERMINAL.test(char) ? jsonEscape(char) : char;
      continue;
    }
    if (char === '"') inString = true;
    if (char === '\n' && options.keepNewlines) out += char;
    else out += UNSAFE_FOR_TERMINAL.test(char) ? ' ' : char;
  }
  return out;
}

/**
 * `value` with every string in it (object keys too) passed through {@link terminalText}: for a
 * report about to be printed for a person, so each field is made safe before colour is added.
 */
export function terminalTextDeep<T>(value: T): T {
  if (typeof value === 'string') return terminalText(value) as T;
  if (Array.isArray(value)) return value.map((item) => terminalTextDeep(item)) as T;
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value).map(([key, item]) => [terminalText(key), terminalTextDeep(item)]),
    ) as T;
  }
  return value;
}

/** `JSON.stringify(value, null, 2)` made safe for a terminal by {@link terminalJson}. */
export function terminalJsonReport(value: unknown): string {
  return terminalJson(JSON.stringify(value, null, 2), { keepNewlines: true });
}

function jsonEscape(char: string): string {
  return `\\u${(char.codePointAt(0) as number).toString(16).padStart(4, '0')}`;
}
