import { describe, expect, it } from 'vitest';
import {
  type EnvelopeHeader,
  envelopeText,
  parseEnvelope,
  SNAPSHOT_FORMAT,
  SNAPSHOT_FORMAT_VERSION,
} from './snapshot-envelope.js';
import { estimateBytes } from './snapshots.js';

const header: EnvelopeHeader = {
  format: SNAPSHOT_FORMAT,
  v: SNAPSHOT_FORMAT_VERSION,
  protocolVersion: '1.2',
  stateVersion: 'v3',
  takenAt: 1_700_000_000_000,
  records: 7,
  restored: 6,
  fromVersion: '1.1',
  segmentVersion: '1.2',
  segmentCreatedAt: 1_690_000_000_000,
  aheadVersion: null,
};
const expectations = { protocolVersion: '1.2', stateVersion: 'v3', storedRecords: 7 };

describe('the snapshot envelope', () => {
  it('round-trips the header and the state', async () => {
    const state = { history: ['a', { b: [1, null, true] }], at: new Date(5) };
    const text = await envelopeText(header, state);
    const parsed = parseEnvelope(text, expectations);
    expect(parsed).toEqual({ envelope: { ...header, state: JSON.parse(JSON.stringify(state)) } });
  });

  it('accepts the same protocol version spelled another way (01.2 is 1.2)', async () => {
    const text = await envelopeText({ ...header, protocolVersion: '01.2' }, {});
    expect(parseEnvelope(text, expectations)).toHaveProperty('envelope');
  });

  it('rejects a state with no JSON form or one that cannot be serialised, saying what to do', async () => {
    await expect(envelopeText(header, undefined)).rejects.toThrow(/no JSON form/);
    await expect(envelopeText(header, { big: 10n })).rejects.toThrow(
      /could not be serialised.*BigInt.*Make snapshots.take\(\) return JSON data/,
    );
  });

  it.each([
    ['not JSON', '{"format":', /not valid JSON/],
    ['not an object', '[1]', /not a JSON object/],
    [
      'another format',
      JSON.stringify({ ...header, format: 'x', state: 1 }),
      /not an agent-records snapshot/,
    ],
    [
      'another layout',
      JSON.stringify({ ...header, v: 2, state: 1 }),
      /not an agent-records snapshot/,
    ],
    [
      'another protocol version',
      JSON.stringify({ ...header, protocolVersion: '1.3', state: 1 }),
      /taken at protocol version 1.3, this code is at 1.2/,
    ],
    [
      'another state version',
      JSON.stringify({ ...header, stateVersion: 3, state: 1 }),
      /state is at version 3, snapshots.version is "v3"/,
    ],
    [
      'a broken count',
      JSON.stringify({ ...header, restored: -1, state: 1 }),
      /malformed \(restored is -1\)/,
    ],
    [
      'a broken version',
      JSON.stringify({ ...header, segmentVersion: 'x', state: 1 }),
      /malformed \(segmentVersion is "x"\)/,
    ],
    [
      'another record count than stored',
      JSON.stringify({ ...header, records: 8, state: 1 }),
      /covers 8 records but was stored as covering 7/,
    ],
    ['no state', JSON.stringify(header), /holds no state/],
  ])('refuses %s, saying why', (_name, text, problem) => {
    const parsed = parseEnvelope(text, expectations);
    expect(parsed).toEqual({ problem: expect.stringMatching(problem) });
  });
});

describe('estimateBytes (the everyBytes measure)', () => {
  it('is close to the JSON size of ordinary records', () => {
    const records = [
      { type: 'turn.prompt', turn_id: 't1', content: 'x'.repeat(500), time: 1_700_000_000_000 },
      {
        type: 'context.append_message',
        message: { role: 'assistant', content: [{ type: 'text', text: 'y'.repeat(2000) }] },
        time: 1_700_000_000_000,
      },
    ];
    for (const record of records) {
      const json = JSON.stringify(record).length;
      expect(estimateBytes(record)).toBeGreaterThan(json * 0.8);
      expect(estimateBytes(record)).toBeLessThan(json * 1.2);
    }
  });

  it('looks at a bounded number of values and never throws', () => {
    let reads = 0;
    const item = {
      get i() {
        reads++;
        return 1;
      },
    };
    const huge = { type: 'x', items: Array.from({ length: 100_000 }, () => item) };
    expect(estimateBytes(huge)).toBeGreaterThan(0);
    expect(reads).toBeLessThanOrEqual(64);
    const hostile = {
      type: 'x',
      get boom() {
        throw new Error('no');
      },
    };
    expect(estimateBytes(hostile)).toBe(0);
  });
});
