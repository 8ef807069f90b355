/**
 * `JSON.stringify(value)` in slices: the same text (or the same `TypeError` for a BigInt or a
 * cycle, the same `undefined` for a value with no JSON form), but computed a few milliseconds at
 * a time with the event loop running in between, so that serialising a large state never stalls
 * the code around it. The walk keeps its own stack (no recursion), so it can stop anywhere.
 *
 * Semantics followed (ECMA-262 SerializeJSONProperty, no replacer, no indent): `toJSON(key)` is
 * called on objects and BigInts; Number, String, Boolean and BigInt wrapper objects are unboxed;
 * `undefined`, functions and symbols are left out of objects and written as `null` in arrays;
 * non-finite numbers are `null`; keys are `Object.keys` order; array holes are `null`.
 * One difference: the walk has no recursion limit, where `JSON.stringify` throws a `RangeError`
 * for values nested tens of thousands deep.
 */

export interface SliceOptions {
  /** How long one slice may run before yielding (ms). Default 4. */
  sliceMs?: number;
  /** How to yield to the event loop. Default: `setImmediate` (else `setTimeout(0)`). */
  yieldToEventLoop?: () => Promise<void>;
}

/** Strings longer than this are quoted in pieces, so one huge string is sliced too. */
const STRING_PIECE = 64 * 1024;
/** Values walked between two looks at the clock. */
const CHECK_EVERY = 256;

interface ObjectFrame {
  array: false;
  holder: object;
  keys: string[];
  next: number;
  /** Whether a member was written yet (for the comma). */
  wrote: boolean;
}

interface ArrayFrame {
  array: true;
  holder: object;
  length: number;
  next: number;
}

type Frame = ObjectFrame | ArrayFrame;

/** `JSON.stringify(value)`, computed in slices; starts after the current task. */
export async function stringifyInSlices(
  value: unknown,
  options: SliceOptions = {},
): Promise<string | undefined> {
  const sliceMs = options.sliceMs ?? 4;
  const pause = options.yieldToEventLoop ?? yieldToEventLoop;
  // Pieces of the current slice are joined per slice: each join costs what its slice did.
  const chunks: string[] = [];
  let pieces: string[] = [];
  const stack: Frame[] = [];
  const onStack = new Set<object>();

  // Nothing runs on the caller's stack, not even the root's toJSON.
  await pause();
  let deadline = now() + sliceMs;
  const root = prepare({ '': value }, '');
  if (root === undefined) return undefined;
  await writeValue(root);
  let walked = 0;
  while (stack.length > 0) {
    if (++walked % CHECK_EVERY === 0 && now() >= deadline) {
      chunks.push(pieces.join(''));
      pieces = [];
      await pause();
      deadline = now() + sliceMs;
    }
    const frame = stack[stack.length - 1] as Frame;
    if (frame.array) {
      if (frame.next >= frame.length) {
        close(frame, ']');
        continue;
      }
      const key = String(frame.next);
      if (frame.next > 0) pieces.push(',');
      frame.next++;
      const item = prepare(frame.holder, key);
      if (item === undefined) pieces.push('null');
      else await writeValue(item);
      continue;
    }
    if (frame.next >= frame.keys.length) {
      close(frame, '}');
      continue;
    }
    const key = frame.keys[frame.next++] as string;
    const member = prepare(frame.holder, key);
    if (member === undefined) continue;
    pieces.push(frame.wrote ? `,${JSON.stringify(key)}:` : `${JSON.stringify(key)}:`);
    frame.wrote = true;
    await writeValue(member);
  }
  chunks.push(pieces.join(''));
  // Concatenated, not joined: each `+` links two strings without copying, so no last slice
  // copies the whole text (20 MB: 15-30 ms). It is made flat where it is first read as a whole
  // (the backend writing it).
  let text = '';
  for (const chunk of chunks) text += chunk;
  return text;

  /** Writes a primitive at once, a long string piece by piece, or pushes an object's frame. */
  async function writeValue(prepared: Prepared): Promise<void> {
    if (prepared.kind === 'text') {
      pieces.push(prepared.text);
      return;
    }
    if (prepared.kind === 'long-string') {
      await writeLongString(prepared.text);
      return;
    }
    push(prepared.value);
  }

  function push(value: object): void {
    if (onStack.has(value)) {
      throw new TypeError('Converting circular structure to JSON (the value contains a cycle)');
    }
    onStack.add(value);
    if (Array.isArray(value)) {
      pieces.push('[');
      stack.push({ array: true, holder: value, length: Number(value.length), next: 0 });
    } else {
      pieces.push('{');
      stack.push({ array: false, holder: value, keys: Object.keys(value), next: 0, wrote: false });
    }
  }

  function close(frame: Frame, bracket: string): void {
    pieces.push(bracket);
    stack.pop();
    onStack.delete(frame.holder);
  }

  async function writeLongString(text: string): Promise<void> {
    pieces.push('"');
    for (let start = 0; start < text.length; ) {
      let end = Math.min(start + STRING_PIECE, text.length);
      // Never split a surrogate pair: each half alone would be escaped as a lone surrogate.
      if (end < text.length && isHighSurrogate(text.charCodeAt(end - 1))) end--;
      const quoted = JSON.stringify(text.slice(start, end));
      pieces.push(quoted.slice(1, -1));
      start = end;
      if (now() >= deadline) {
        chunks.push(pieces.join(''));
        pieces = [];
        await pause();
        deadline = now() + sliceMs;
      }
    }
    pieces.push('"');
  }
}

type Prepared =
  | { kind: 'text'; text: string }
  | { kind: 'long-string'; text: string }
  | { kind: 'object'; value: object };

/**
 * `holder[key]` as JSON.stringify sees it: after `toJSON(key)` and unboxing. `undefined` when it
 * has no JSON form (left out of an object, `null` in an array).
 */
function prepare(holder: object, key: string): Prepared | undefined {
  let value: unknown = (holder as Record<string, unknown>)[key];
  if ((typeof value === 'object' && value !== null) || typeof value === 'bigint') {
    const toJSON = (value as { toJSON?: unknown }).toJSON;
    if (typeof toJSON === 'function') value = toJSON.call(value, key);
  }
  if (typeof value === 'object' && value !== null) value = unbox(value);
  switch (typeof value) {
    case 'string':
      return value.length > STRING_PIECE
        ? { kind: 'long-string', text: value }
        : { kind: 'text', text: JSON.stringify(value) };
    case 'number':
      return { kind: 'text', text: Number.isFinite(value) ? String(value) : 'null' };
    case 'boolean':
      return { kind: 'text', text: value ? 'true' : 'false' };
    case 'bigint':
      throw new TypeError('Do not know how to serialize a BigInt');
    case 'object':
      return value === null ? { kind: 'text', text: 'null' } : { kind: 'object', value };
    default:
      // undefined, functions, symbols.
      return undefined;
  }
}

/**
 * A Number, String, Boolean or BigInt wrapper object becomes its primitive, as JSON.stringify
 * does. Found by its built-in tag, confirmed by the wrapper's own `valueOf` (which throws for
 * anything else), so plain objects and arrays cost one tag read and no exception. A wrapper
 * whose `Symbol.toStringTag` was overridden is not recognised (it is walked as an object).
 */
function unbox(value: object): unknown {
  if (Array.isArray(value)) return value;
  switch (Object.prototype.toString.call(value)) {
    case '[object Number]':
      // ToNumber, as the spec says: a wrapper's own valueOf is honoured.
      return hasSlot(Number.prototype.valueOf, value) ? Number(value) : value;
    case '[object String]':
      return hasSlot(String.prototype.valueOf, value) ? String(value) : value;
    case '[object Boolean]':
      return hasSlot(Boolean.prototype.valueOf, value)
        ? Boolean.prototype.valueOf.call(value)
        : value;
    case '[object BigInt]':
      return hasSlot(BigInt.prototype.valueOf, value)
        ? BigInt.prototype.valueOf.call(value)
        : value;
    default:
      return value;
  }
}

/** Whether `value` is a wrapper of that kind: the built-in `valueOf` throws for anything else. */
function hasSlot(builtinValueOf: () => unknown, value: object): boolean {
  try {
    builtinValueOf.call(value);
    return true;
  } catch {
    return false;
  }
}

function isHighSurrogate(code: number): boolean {
  return code >= 0xd800 && code <= 0xdbff;
}

const now: () => number =
  typeof performance === 'object' && typeof performance.now === 'function'
    ? () => performance.now()
    : () => Date.now();

function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => {
    if (typeof setImmediate === 'function') setImmediate(resolve);
    else setTimeout(resolve, 0);
  });
}
