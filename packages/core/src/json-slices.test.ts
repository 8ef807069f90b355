import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { resolveRootToJSON, stringifyInSlices } from './json-slices.js';

/** What JSON.stringify gives, or the kind of error it throws. */
function expected(value: unknown): { text: string | undefined } | { error: string } {
  try {
    return { text: JSON.stringify(value) };
  } catch (error) {
    return { error: (error as Error).constructor.name };
  }
}

async function actual(
  value: unknown,
  sliceMs = 0,
  rootFirst = false,
): Promise<{ text: string | undefined } | { error: string }> {
  try {
    const given = rootFirst ? resolveRootToJSON(value) : value;
    return { text: await stringifyInSlices(given, { sliceMs }) };
  } catch (error) {
    return { error: (error as Error).constructor.name };
  }
}

/** A value with a `toJSON` that answers with another value, or with its key. */
const withToJSON = (inner: fc.Arbitrary<unknown>) =>
  fc.oneof(
    inner.map((value) => ({ toJSON: () => value })),
    fc.constant({ toJSON: (key: string) => `key:${key}` }),
    fc.date({ noInvalidDate: false }),
  );

/** JSON-ish values plus everything JSON.stringify treats specially. */
const { value: jsonish } = fc.letrec<{ value: unknown }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.constantFrom(
      undefined,
      null,
      true,
      false,
      0,
      -0,
      Number.NaN,
      Number.POSITIVE_INFINITY,
      () => 1,
      Symbol('s'),
    ),
    fc.double(),
    fc.integer(),
    fc.string({ unit: 'binary' }),
    fc.constantFrom(new Number(4), new String('boxed'), new Boolean(false)),
    fc.array(tie('value')),
    fc.sparseArray(tie('value')),
    fc.dictionary(fc.string({ unit: 'binary' }), tie('value')),
    withToJSON(tie('value')),
  ),
}));

describe('stringifyInSlices', () => {
  it('gives exactly what JSON.stringify gives, for any JSON-ish value', async () => {
    await fc.assert(
      fc.asyncProperty(jsonish, async (value) => {
        expect(await actual(value)).toEqual(expected(value));
      }),
      { numRuns: 500 },
    );
  });

  it('gives the same when the root toJSON ran first (resolveRootToJSON)', async () => {
    await fc.assert(
      fc.asyncProperty(jsonish, async (value) => {
        expect(await actual(value, 0, true)).toEqual(expected(value));
      }),
      { numRuns: 300 },
    );
  });

  it("gives the same with a first part written on the caller's stack (syncUnits)", async () => {
    await fc.assert(
      fc.asyncProperty(jsonish, fc.nat(400), async (value, syncUnits) => {
        let result: { text: string | undefined } | { error: string };
        try {
          result = { text: await stringifyInSlices(value, { sliceMs: 0, syncUnits }) };
        } catch (error) {
          result = { error: (error as Error).constructor.name };
        }
        expect(result).toEqual(expected(value));
      }),
      { numRuns: 300 },
    );
  });

  it('writes a value whose text fits syncUnits before it returns: later mutations are not seen', async () => {
    const state = { messages: Array.from({ length: 300 }, (_, i) => `${i}:${'x'.repeat(500)}`) };
    const before = JSON.stringify(state);
    let pauses = 0;
    const done = stringifyInSlices(state, {
      syncUnits: 256 * 1024,
      yieldToEventLoop: async () => {
        pauses++;
      },
    });
    state.messages.push('after');
    state.messages[0] = 'changed';
    expect(await done).toBe(before);
    expect(pauses).toBe(0);
  });

  it('a value larger than syncUnits is serialised in slices after the current task, as without it', async () => {
    const state = {
      history: Array.from({ length: 20_000 }, (_, i) => ({ i, text: `m${i}` })),
      long: 'y'.repeat(300_000),
    };
    for (const value of [state, state.long]) {
      let pauses = 0;
      const done = stringifyInSlices(value, {
        sliceMs: 1,
        syncUnits: 64 * 1024,
        yieldToEventLoop: () => {
          pauses++;
          return new Promise((resolve) => setImmediate(resolve));
        },
      });
      expect(pauses).toBe(1); // it gave up on the caller's stack and yielded
      expect(await done).toBe(JSON.stringify(value));
    }
  });

  it("with syncUnits, a resolved root's value is not asked for toJSON, and errors are JSON.stringify's", async () => {
    const returnsToJSON = { toJSON: () => ({ toJSON: () => 'inner' }) };
    const options = { syncUnits: 1000, sliceMs: 0 };
    expect(await stringifyInSlices(resolveRootToJSON(returnsToJSON), options)).toBe(
      JSON.stringify(returnsToJSON),
    );
    const cycle: Record<string, unknown> = {};
    cycle.self = cycle;
    await expect(stringifyInSlices({ a: cycle }, options)).rejects.toThrow(TypeError);
    await expect(stringifyInSlices({ n: 1n }, options)).rejects.toThrow(TypeError);
    const thrown = resolveRootToJSON({
      toJSON: () => {
        throw new Error('not now');
      },
    });
    await expect(stringifyInSlices(thrown, options)).rejects.toThrow('not now');
  });

  it("runs the root toJSON once, when resolved, and not the returned value's own", async () => {
    let live = ['a'];
    let calls = 0;
    const inner = { toJSON: () => 'not called by JSON.stringify either' };
    const resolved = resolveRootToJSON({
      toJSON(key: string) {
        calls++;
        return { key, items: live, inner: live.length === 1 ? inner : null };
      },
    });
    live = ['a', 'b'];
    const root = { key: '', items: ['a'], inner };
    expect(await stringifyInSlices(resolved)).toBe(JSON.stringify(root));
    expect(calls).toBe(1);
    const returnsToJSON = { toJSON: () => ({ toJSON: () => 'inner' }) };
    expect(await stringifyInSlices(resolveRootToJSON(returnsToJSON))).toBe(
      JSON.stringify(returnsToJSON),
    );
  });

  it('gives the same text for a state of several megabytes (joined in groups)', async () => {
    const state = {
      history: Array.from({ length: 40_000 }, (_, i) => ({
        i,
        text: `message ${i} é😀`.repeat(8),
      })),
      long: 'x'.repeat(1_500_000),
    };
    expect(await stringifyInSlices(state, { sliceMs: 1 })).toBe(JSON.stringify(state));
  });

  it('passes each toJSON its own key, as JSON.stringify does', async () => {
    const seen: string[] = [];
    const probe = {
      toJSON(key: string) {
        seen.push(key);
        return key;
      },
    };
    const value = { a: probe, list: [probe, probe], nested: { deep: probe } };
    const text = await stringifyInSlices(value);
    const slicedKeys = seen.splice(0);
    expect(text).toBe(JSON.stringify(value));
    expect(slicedKeys).toEqual(seen);
    expect(slicedKeys).toEqual(['a', '0', '1', 'deep']);
  });

  it('rejects a BigInt and a cycle like JSON.stringify throws', async () => {
    const cycle: Record<string, unknown> = { a: 1 };
    cycle.self = { back: cycle };
    await expect(stringifyInSlices({ n: 1n })).rejects.toThrow(TypeError);
    await expect(stringifyInSlices(cycle)).rejects.toThrow(TypeError);
    // The same object twice, side by side, is no cycle.
    const shared = { x: 1 };
    expect(await stringifyInSlices([shared, { shared }])).toBe(
      JSON.stringify([shared, { shared }]),
    );
  });

  it('gives undefined where JSON.stringify does (undefined, a function, a toJSON returning undefined)', async () => {
    expect(await stringifyInSlices(undefined)).toBeUndefined();
    expect(await stringifyInSlices(() => 1)).toBeUndefined();
    expect(await stringifyInSlices({ toJSON: () => undefined })).toBeUndefined();
  });

  it('quotes long strings in pieces without splitting a surrogate pair', async () => {
    const pair = '\u{1F600}';
    // The pair straddles the 64 KiB piece boundary; lone surrogates stay escaped.
    const text = `${'a'.repeat(64 * 1024 - 1)}${pair}"\n${'\ud800'}${'b'.repeat(200_000)}`;
    const value = { text, list: [text], top: pair };
    expect(await stringifyInSlices(value, { sliceMs: 0 })).toBe(JSON.stringify(value));
    expect(await stringifyInSlices(text, { sliceMs: 0 })).toBe(JSON.stringify(text));
  });

  it('looks at the clock by the amount of text written, not only by values walked', async () => {
    // 300 strings of 60 KB (18 MB): strings up to 64 KB are quoted whole, so counting values
    // alone let one slice quote 256 of them (15 MB) before it looked at the clock (a trial
    // measured 86 ms pauses). With a zero slice every look yields: one per string or so.
    const files = Array.from({ length: 300 }, (_, i) => `${i}`.padEnd(60 * 1024, 'x'));
    let yields = 0;
    const text = await stringifyInSlices(
      { files },
      {
        sliceMs: 0,
        yieldToEventLoop: async () => {
          yields++;
        },
      },
    );
    expect(text).toBe(JSON.stringify({ files }));
    expect(yields).toBeGreaterThanOrEqual(300);
  });

  it('yields to the event loop while it works, and starts after the current task', async () => {
    const state = { history: Array.from({ length: 50_000 }, (_, i) => ({ i, text: `m${i}` })) };
    let pauses = 0;
    const done = stringifyInSlices(state, {
      sliceMs: 1,
      yieldToEventLoop: () => {
        pauses++;
        return new Promise((resolve) => setImmediate(resolve));
      },
    });
    expect(pauses).toBe(1); // only the first pause: nothing was walked on the caller's stack
    expect(await done).toBe(JSON.stringify(state));
    expect(pauses).toBeGreaterThan(1);
  });
});
