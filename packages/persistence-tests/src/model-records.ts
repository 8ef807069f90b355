// The records the model-based suite appends: ordinary ones, awkward-but-valid ones, and hostile
// values a host may hand to `append` by mistake. A spec is plain data (so fast-check can print and
// shrink it); the object itself is built afresh on each run, because the suite mutates it.
import fc from 'fast-check';

/** What the contract says must happen to a value handed to `append`. */
export type Expectation =
  /** Stored exactly as `JSON.parse(JSON.stringify(value))` at call time. */
  | 'stored'
  /** A value the store may be unable to hold (see `PersistenceModelOptions.refuses`). */
  | 'store-dependent'
  /** `append` throws `RecordsSerializeError`. */
  | 'serialize-error'
  /** `append` throws `RecordsInvalidError`. */
  | 'invalid-error'
  /** `append` throws one of the two (the spec allows either reading). */
  | 'serialize-or-invalid';

export type RecordSpec =
  | { kind: 'plain'; text: string; payload: unknown; time?: number }
  | { kind: 'separators'; text: string }
  | { kind: 'huge'; chars: number }
  | { kind: 'mutated-after-append'; text: string }
  | { kind: 'to-json'; returns: 'undefined' | 'number' | 'non-record' | 'array' | 'record' }
  | { kind: 'throwing-getter'; on: 'payload' | 'type' }
  | { kind: 'cycle' }
  | { kind: 'bigint' }
  | { kind: 'invalid'; what: 'no-type' | 'empty-type' | 'array' | 'null' | 'number' | 'nan-time' }
  | { kind: 'lone-surrogate'; which: '\ud800' | '\udfff' | '\udc00x\ud83d' }
  | { kind: 'time-out-of-range'; time: number };

/** Store limits a backend may declare (the contract lets a store refuse what it cannot hold). */
export interface StoreRefusals {
  /** Strings with unpaired UTF-16 surrogates (PostgreSQL jsonb cannot hold them). */
  loneSurrogates?: boolean;
  /** A finite `time` outside the store's date range (beyond JavaScript's Date or the database's). */
  timeOutOfRange?: boolean;
}

export function expectationOf(spec: RecordSpec, refusals: StoreRefusals): Expectation {
  switch (spec.kind) {
    case 'plain':
    case 'separators':
    case 'huge':
    case 'mutated-after-append':
      return 'stored';
    case 'to-json':
      return spec.returns === 'record' ? 'stored' : 'serialize-error';
    case 'throwing-getter':
      return spec.on === 'type' ? 'serialize-or-invalid' : 'serialize-error';
    case 'cycle':
    case 'bigint':
      return 'serialize-error';
    case 'invalid':
      return 'invalid-error';
    case 'lone-surrogate':
      return refusals.loneSurrogates ? 'store-dependent' : 'stored';
    case 'time-out-of-range':
      return refusals.timeOutOfRange ? 'store-dependent' : 'stored';
  }
}

/** Builds the value to append. `id` makes every accepted record unique in the log. */
export function buildRecord(spec: RecordSpec, id: number): { value: unknown; after?: () => void } {
  const type = `model.${spec.kind}`;
  switch (spec.kind) {
    case 'plain':
      return {
        value: {
          type,
          id,
          text: spec.text,
          payload: spec.payload,
          ...(spec.time === undefined ? {} : { time: spec.time }),
        },
      };
    case 'separators':
      return { value: { type, id, text: `a\u2028b\u2029c 😀 👩‍👩‍👧 é\n${spec.text}\u2028` } };
    case 'huge': {
      const unit = 'é😀\u2028x"\\';
      return { value: { type, id, text: unit.repeat(Math.ceil(spec.chars / unit.length)) } };
    }
    case 'mutated-after-append': {
      const value = { type, id, text: spec.text, nested: { list: [1, 2], state: 'before' } };
      return {
        value,
        after: () => {
          value.type = 'model.mutated';
          value.nested.state = 'after';
          value.nested.list.push(3);
          (value as Record<string, unknown>).added = true;
        },
      };
    }
    case 'to-json': {
      const result = {
        undefined: undefined,
        number: 5,
        'non-record': { note: 'no type here', id },
        array: [{ type, id }],
        record: { type: 'model.from-to-json', id, text: 'made by toJSON' },
      }[spec.returns];
      return { value: { type, id, toJSON: () => result } };
    }
    case 'throwing-getter': {
      const value: Record<string, unknown> = { id };
      const thrower = () => {
        throw new Error('getter exploded');
      };
      if (spec.on === 'type')
        Object.defineProperty(value, 'type', { get: thrower, enumerable: true });
      else {
        value.type = type;
        Object.defineProperty(value, 'payload', { get: thrower, enumerable: true });
      }
      return { value };
    }
    case 'cycle': {
      const value: Record<string, unknown> = { type, id, inner: {} };
      (value.inner as Record<string, unknown>).back = value;
      return { value };
    }
    case 'bigint':
      return { value: { type, id, big: 10n ** 30n } };
    case 'invalid':
      return {
        value: {
          'no-type': { id, text: 'no type' },
          'empty-type': { type: '', id },
          array: [{ type, id }],
          null: null,
          number: 42,
          'nan-time': { type, id, time: Number.NaN },
        }[spec.what],
      };
    case 'lone-surrogate':
      return { value: { type, id, text: `before ${spec.which} after` } };
    case 'time-out-of-range':
      return { value: { type, id, time: spec.time } };
  }
}

/** The JSON value a correct store holds for `value`, taken before any later mutation. */
export function snapshotOf(value: unknown): unknown {
  return JSON.parse(JSON.stringify(value) as string);
}

const text = fc.string({ unit: 'grapheme', maxLength: 40 });
const payload = fc.jsonValue({ maxDepth: 2 });

/** Mostly ordinary records, with every hostile kind showing up often enough to matter. */
export const recordSpec: fc.Arbitrary<RecordSpec> = fc.oneof(
  {
    weight: 8,
    arbitrary: fc.record(
      {
        kind: fc.constant('plain' as const),
        text: fc.oneof(text, fc.string({ unit: 'binary', maxLength: 20 })),
        payload,
        time: fc.integer({ min: 0, max: 4_102_444_800_000 }),
      },
      { requiredKeys: ['kind', 'text', 'payload'] },
    ),
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('separators' as const), text }) },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('huge' as const),
      chars: fc.constantFrom(70_000, 70_000, 70_000, 400_000),
    }),
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('mutated-after-append' as const), text }) },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('to-json' as const),
      returns: fc.constantFrom('undefined', 'number', 'non-record', 'array', 'record'),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('throwing-getter' as const),
      on: fc.constantFrom('payload', 'type'),
    }),
  },
  { weight: 1, arbitrary: fc.constant({ kind: 'cycle' as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'bigint' as const }) },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('invalid' as const),
      what: fc.constantFrom('no-type', 'empty-type', 'array', 'null', 'number', 'nan-time'),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('lone-surrogate' as const),
      which: fc.constantFrom('\ud800', '\udfff', '\udc00x\ud83d'),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('time-out-of-range' as const),
      time: fc.constantFrom(1e16, -8.64e15, 1e300, -1e300),
    }),
  },
);

/** Records for `rewrite`: valid ones only (a rewrite holding a bad record is a separate test). */
export const rewriteSpecs: fc.Arbitrary<RecordSpec[]> = fc.array(
  fc.oneof(
    fc.record({ kind: fc.constant('plain' as const), text, payload }),
    fc.record({ kind: fc.constant('separators' as const), text }),
  ),
  { maxLength: 6 },
);

/** A short description for fast-check's counterexample output. */
export function describeSpec(spec: RecordSpec): string {
  switch (spec.kind) {
    case 'plain':
      return `plain(${JSON.stringify(spec.text)}, ${JSON.stringify(spec.payload)}${spec.time === undefined ? '' : `, time ${spec.time}`})`;
    case 'huge':
      return `huge(${spec.chars} chars)`;
    case 'to-json':
      return `toJSON returning ${spec.returns}`;
    case 'throwing-getter':
      return `throwing getter on ${spec.on}`;
    case 'invalid':
      return `invalid(${spec.what})`;
    case 'lone-surrogate':
      return `lone surrogate ${JSON.stringify(spec.which)}`;
    case 'time-out-of-range':
      return `time ${spec.time}`;
    case 'separators':
    case 'mutated-after-append':
      return `${spec.kind}(${JSON.stringify(spec.text)})`;
    default:
      return spec.kind;
  }
}
