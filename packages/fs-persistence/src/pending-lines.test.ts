import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { PendingLines } from './pending-lines.js';

const add = (pending: PendingLines, line: string) => pending.add(line, Buffer.byteLength(line));

/** Buffers compared natively (vitest's deep equality walks them byte by byte). */
const same = (actual: Buffer, wanted: Buffer) => expect(actual.equals(wanted)).toBe(true);

/** The bytes of lines `from` to `to` (included) as the writer must write them. */
const expected = (lines: readonly string[], from: number, to: number) =>
  Buffer.from(
    lines
      .slice(from, to + 1)
      .map((line) => `${line}\n`)
      .join(''),
    'utf8',
  );

describe('PendingLines', () => {
  it('keeps each line as UTF-8 with its newline, at consecutive stream offsets', () => {
    const pending = new PendingLines();
    const lines = ['{"type":"a"}', '{"type":"é","s":"\u2028 😀"}', '{"type":"c"}'];
    const starts = lines.map((line) => add(pending, line));
    expect(starts[0]).toBe(0);
    for (let i = 1; i < lines.length; i++) {
      expect(starts[i]).toBe((starts[i - 1] as number) + Buffer.byteLength(`${lines[i - 1]}\n`));
    }
    expect(pending.end).toBe(expected(lines, 0, 2).length);
    expect(Buffer.concat(pending.views(starts[0] as number, starts[2] as number))).toEqual(
      expected(lines, 0, 2),
    );
    expect(Buffer.concat(pending.views(starts[1] as number, starts[1] as number))).toEqual(
      expected(lines, 1, 1),
    );
  });

  it('never splits a line between blocks, and gives a line longer than a block a block of its own', () => {
    const pending = new PendingLines();
    const lines = Array.from({ length: 200 }, (_, i) => `{"n":${i},"pad":"${'x'.repeat(i * 97)}"}`);
    lines.push(`{"big":"${'y'.repeat(3_000_000)}"}`, '{"after":1}');
    const starts = lines.map((line) => add(pending, line));
    const views = pending.views(starts[0] as number, starts.at(-1) as number);
    expect(views.length).toBeGreaterThan(2);
    for (const view of views) expect(view.at(-1)).toBe(0x0a);
    same(Buffer.concat(views), expected(lines, 0, lines.length - 1));
  });

  it('holds about the bytes queued, even for lines just over half a block', () => {
    const pending = new PendingLines();
    const line = JSON.stringify({ type: 'x', text: 'y'.repeat(524_370) }); // 524,388 bytes
    for (let i = 0; i < 40; i++) add(pending, line);
    const queued = 40 * (line.length + 1);
    expect(pending.heldBytes).toBeLessThanOrEqual(queued * 1.05);
  });

  it('views handed out stay as they were after their blocks are released and more is added', () => {
    const pending = new PendingLines();
    const lines = Array.from({ length: 5000 }, (_, i) => `{"n":${i},"pad":"${'z'.repeat(50)}"}`);
    const starts = lines.map((line) => add(pending, line));
    const held = pending.views(starts[0] as number, starts[4999] as number);
    const copy = Buffer.from(Buffer.concat(held));
    pending.releaseBefore(pending.end);
    for (let i = 0; i < 5000; i++) add(pending, `{"other":${i},"pad":"${'q'.repeat(50)}"}`);
    same(Buffer.concat(held), copy);
  });

  it('keeps exactly the bytes of the lines not released (model: the list of lines)', () => {
    const line = fc
      .string({ unit: 'binary', maxLength: 300 })
      .map((text) => JSON.stringify({ type: 't', text }));
    const step = fc.oneof(
      fc.record({ add: fc.array(line, { minLength: 1, maxLength: 40 }) }),
      fc.record({ big: fc.integer({ min: 5_000, max: 600_000 }) }),
      fc.record({ release: fc.nat() }),
    );
    fc.assert(
      fc.property(fc.array(step, { maxLength: 30 }), (steps) => {
        const pending = new PendingLines();
        const lines: string[] = [];
        const starts: number[] = [];
        let released = 0; // lines before this index may be released
        for (const s of steps) {
          if ('add' in s) {
            for (const text of s.add) {
              lines.push(text);
              starts.push(add(pending, text));
            }
          } else if ('big' in s) {
            const text = JSON.stringify({ type: 'big', text: 'é'.repeat(s.big) });
            lines.push(text);
            starts.push(add(pending, text));
          } else if (lines.length > released) {
            released += s.release % (lines.length - released);
            pending.releaseBefore(starts[released] as number);
          }
          if (lines.length > released) {
            const views = pending.views(starts[released] as number, starts.at(-1) as number);
            same(Buffer.concat(views), expected(lines, released, lines.length - 1));
          }
        }
      }),
      { numRuns: Number(process.env.AGENT_RECORDS_MODEL_RUNS ?? 100) },
    );
  });
});
