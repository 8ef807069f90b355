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
  /**
   * A value whose JSON text is at most about this many UTF-16 units (estimated as it is written:
   * string and key lengths plus a few per value) is serialised at once, by `JSON.stringify`,
   * before the call returns, so nothing the caller does afterwards can change it. A larger one
   * costs that much work on the caller's stack, then is serialised from the start in slices, as
   * without this option (nested `toJSON` methods of its first part then run twice). Default 0.
   */
  syncUnits?: number;
}

/** Strings longer than this are quoted in pieces, so one huge string is sliced too. */
const STRING_PIECE = 64 * 1024;
/**
 * UTF-16 units of text joined into one flat group (a copy of at most ~2 MB, well under a
 * millisecond): a 20 MB state ends as about 20 groups, not thousands of small chunks.
 */
const GROUP_UNITS = 1024 * 1024;
/**
 * Work between two looks at the clock: one unit per value walked, plus one per 64 UTF-16 units of
 * text written (a 64 KB string is 1024 units), so many mid-sized strings cannot fill a slice.
 */
const CHECK_EVERY = 256;
/** log2 of the text units that count as one unit of work. */
const TEXT_UNIT_SHIFT = 6;

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

/**
 * `JSON.stringify(value)`, computed in slices; starts after the current task (a value that fits
 * `syncUnits` is serialised whole before it returns).
 */
export async function stringifyInSlices(
  value: unknown,
  options: SliceOptions = {},
): Promise<string | undefined> {
  const sliceMs = options.sliceMs ?? 4;
  const pause = options.yieldToEventLoop ?? yieldToEventLoop;
  const syncUnits = options.syncUnits ?? 0;
  if (syncUnits > 0) {
    const whole = stringifyIfSmall(value, syncUnits);
    if (whole !== TOO_LARGE) return whole;
  }
  /** Flat strings of about GROUP_UNITS each: the text so far, but its last chunks. */
  const groups: string[] = [];
  let chunks: string[] = [];
  let chunkUnits = 0;
  let pieces: string[] = [];
  const stack: Frame[] = [];
  const onStack = new Set<object>();

  // Nothing runs on the caller's stack, not even the root's toJSON (unless the caller ran it
  // already, with resolveRootToJSON).
  await pause();
  let deadline = now() + sliceMs;
  let root: ReturnType<typeof prepare>;
  if (value instanceof ResolvedRoot) {
    if (value.threw) throw value.error;
    root = describe(value.value);
  } else root = prepare({ '': value }, '');
  if (root === undefined) return undefined;
  if (root === LONG_STRING) await writeLongString(prepared as string);
  else write(root);
  let walked = 0;
  let nextCheck = CHECK_EVERY;
  while (stack.length > 0) {
    if (++walked >= nextCheck) {
      nextCheck = walked + CHECK_EVERY;
      // Joined a few thousand pieces at a time, inside the slice's time, not after it.
      addChunk();
      if (now() >= deadline) {
        await pause();
        deadline = now() + sliceMs;
      }
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
      else if (item === LONG_STRING) await writeLongString(prepared as string);
      else {
        write(item);
        if (typeof item === 'string') walked += item.length >> TEXT_UNIT_SHIFT;
      }
      continue;
    }
    if (frame.next >= frame.keys.length) {
      close(frame, '}');
      continue;
    }
    const key = frame.keys[frame.next++] as string;
    const member = prepare(frame.holder, key);
    if (member === undefined) continue;
    if (frame.wrote) pieces.push(',');
    pieces.push(quotedKey(key));
    frame.wrote = true;
    if (member === LONG_STRING) await writeLongString(prepared as string);
    else {
      write(member);
      if (typeof member === 'string') walked += member.length >> TEXT_UNIT_SHIFT;
    }
  }
  addChunk();
  if (chunks.length > 0) groups.push(chunks.join(''));
  // Concatenated, not joined: each `+` links two strings without copying, so no last slice
  // copies the whole text (20 MB: 15-30 ms). A few flat groups make a shallow string that the
  // backend flattens in one copy (a few ms) where it first reads it whole.
  let text = '';
  for (const group of groups) text += group;
  return text;

  /**
   * Moves the pieces into a chunk, and the chunks into a flat group once they hold GROUP_UNITS:
   * each copy is bounded and inside a slice, and the text ends up as a few large strings.
   */
  function addChunk(): void {
    const chunk = pieces.join('');
    pieces = [];
    chunks.push(chunk);
    chunkUnits += chunk.length;
    if (chunkUnits >= GROUP_UNITS) {
      groups.push(chunks.join(''));
      chunks = [];
      chunkUnits = 0;
    }
  }

  /** Writes a value's text, or opens the object `prepare` left in `prepared`. */
  function write(result: string | typeof OBJECT): void {
    if (result === OBJECT) push(prepared as object);
    else pieces.push(result);
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
        addChunk();
        await pause();
        deadline = now() + sliceMs;
      }
    }
    pieces.push('"');
  }
}

/** {@link stringifyIfSmall} gave up: the value is larger than its budget (or native failed). */
const TOO_LARGE = Symbol('too large');

/**
 * `JSON.stringify(value)` when its text is at most about `budget` UTF-16 units, else TOO_LARGE
 * after about that much work. Native serialisation, with a replacer that only counts (returning
 * each value unchanged gives the same text): 200 KB of agent messages in 2-3.5 ms on a cold start
 * (1-2 ms warm), where the sliced walk, interpreted until it warms up, took 17-33 ms for the same.
 * An error (a cycle, a BigInt, a `toJSON` that throws, nesting too deep for native recursion) is
 * also TOO_LARGE: the sliced walk then gives JSON.stringify's answer.
 */
function stringifyIfSmall(value: unknown, budget: number): string | undefined | typeof TOO_LARGE {
  let target = value;
  if (value instanceof ResolvedRoot) {
    if (value.threw) return TOO_LARGE;
    target = value.value;
    // JSON.stringify would call the resolved value's own toJSON, which the root's must not.
    if ((typeof target === 'object' && target !== null) || typeof target === 'bigint') {
      if (typeof (target as { toJSON?: unknown }).toJSON === 'function') return TOO_LARGE;
    }
  }
  let units = 0;
  try {
    return JSON.stringify(target, (key: string, item: unknown) => {
      units += key.length + 4;
      if (typeof item === 'string') units += item.length;
      if (units > budget) throw TOO_LARGE;
      return item;
    });
  } catch {
    return TOO_LARGE;
  }
}

/** A root value whose `toJSON` already ran (or threw), see {@link resolveRootToJSON}. */
class ResolvedRoot {
  constructor(
    readonly value: unknown,
    readonly threw: boolean,
    readonly error: unknown,
  ) {}
}

/**
 * Runs the root's `toJSON('')` now, as `JSON.stringify` would first: {@link stringifyInSlices}
 * given the result serialises what it returned (its own `toJSON` not called again) or throws what
 * it threw. For a caller that must capture a state at a point: a root `{ toJSON: () => live }`
 * would otherwise be read slices later, after the live value moved on. Nested `toJSON` methods
 * and getters still run during the serialisation.
 */
export function resolveRootToJSON(value: unknown): unknown {
  try {
    return new ResolvedRoot(applyToJSON(value, ''), false, undefined);
  } catch (error) {
    return new ResolvedRoot(undefined, true, error);
  }
}

/**
 * `"key":` for a member name. States repeat the same few names over and over (role, content,
 * parts...): quoting each once keeps the walk from making a new string per member.
 */
const quotedKeys = new Map<string, string>();
const QUOTED_KEYS_KEPT = 4096;

function quotedKey(key: string): string {
  let quoted = quotedKeys.get(key);
  if (quoted === undefined) {
    quoted = `${JSON.stringify(key)}:`;
    if (key.length <= 64) {
      if (quotedKeys.size >= QUOTED_KEYS_KEPT) quotedKeys.clear();
      quotedKeys.set(key, quoted);
    }
  }
  return quoted;
}

/** `prepare` found an object (left in `prepared`) to walk. */
const OBJECT = Symbol('object');
/** `prepare` found a string long enough to quote in pieces (left in `prepared`). */
const LONG_STRING = Symbol('long string');
/** The object or long string of the last `prepare` (no allocation per value walked). */
let prepared: unknown;

/**
 * `holder[key]` as JSON.stringify sees it, after `toJSON(key)` and unboxing: its JSON text, or
 * OBJECT / LONG_STRING (the value in `prepared`), or `undefined` when it has no JSON form (left
 * out of an object, `null` in an array).
 */
function prepare(
  holder: object,
  key: string,
): string | typeof OBJECT | typeof LONG_STRING | undefined {
  return describe(applyToJSON((holder as Record<string, unknown>)[key], key));
}

/** `value.toJSON(key)` for an object or BigInt that has one, else `value`. */
function applyToJSON(value: unknown, key: string): unknown {
  if ((typeof value === 'object' && value !== null) || typeof value === 'bigint') {
    const toJSON = (value as { toJSON?: unknown }).toJSON;
    if (typeof toJSON === 'function') return toJSON.call(value, key);
  }
  return value;
}

/** What {@link prepare} answers, for a value whose toJSON already ran. */
function describe(value: unknown): string | typeof OBJECT | typeof LONG_STRING | undefined {
  if (typeof value === 'object' && value !== null) value = unbox(value);
  switch (typeof value) {
    case 'string':
      if (value.length <= STRING_PIECE) return JSON.stringify(value);
      prepared = value;
      return LONG_STRING;
    case 'number':
      return Number.isFinite(value) ? String(value) : 'null';
    case 'boolean':
      return value ? 'true' : 'false';
    case 'bigint':
      throw new TypeError('Do not know how to serialize a BigInt');
    case 'object':
      if (value === null) return 'null';
      prepared = value;
      return OBJECT;
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
