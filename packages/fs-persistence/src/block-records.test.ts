import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { RecordsCorruptError } from '@agent-records/types';
import { describe, expect, it } from 'vitest';
import { readAll } from '../test/read-all.js';
import { useTempDir } from '../test/temp-dir.js';
import { classifyLogLine } from './block-records.js';
import { FileSystemAgentRecordPersistence } from './fs-persistence.js';

const temp = useTempDir('fs-block-records-');
const META = '{"type":"metadata","protocol_version":"1.0","created_at":1}';
/** Byte offset of line 2 when line 1 is META. */
const LINE_2 = Buffer.byteLength(META) + 1;

function logOf(content: string | Buffer, name = 'log.jsonl'): string {
  const file = path.join(temp.dir, name);
  writeFileSync(file, content);
  return file;
}

async function outcomeOf(file: string): Promise<unknown> {
  return readAll(new FileSystemAgentRecordPersistence(file, { lock: false })).then(
    (records) => ({ records }),
    (error: unknown) => error,
  );
}

/** Lines that String#trim() empties but no JSON Lines writer writes. */
const unicodeOnlySpace: Array<[string, string]> = [
  ['U+00A0 (no-break space)', '\u00a0'],
  ['U+FEFF (a byte order mark past the first line)', '\ufeff'],
  ['U+2028 (line separator)', '\u2028'],
  ['U+3000 (ideographic space)', '\u3000'],
  ['form feed', '\f'],
  ['vertical tab', '\v'],
  ['U+00A0 after spaces', '  \u00a0\t'],
];

describe('blank lines: space, tab and CR only', () => {
  it.each(unicodeOnlySpace)(
    'a line of %s is corrupt, at its line and byte offset',
    async (_what, text) => {
      const failure = await outcomeOf(logOf(`${META}\n${text}\n{"type":"a"}\n`));
      expect(failure).toBeInstanceOf(RecordsCorruptError);
      expect(failure).toMatchObject({ line: 2, offset: LINE_2 });
      expect((failure as Error).message).toContain(
        `:2:${LINE_2}: not valid JSON: a line of white space holding U+`,
      );
      expect(
        classifyLogLine(Buffer.from(text), { fileStart: false, complete: true }),
      ).toMatchObject({ kind: 'corrupt' });
    },
  );

  it('lines of spaces, tabs and CR (and empty ones) are still skipped', async () => {
    const file = logOf(`${META}\r\n\r\n \t \n\n\t\r\n{"type":"a"}\r\n   `);
    expect(await outcomeOf(file)).toEqual({ records: [JSON.parse(META), { type: 'a' }] });
    for (const text of ['', ' ', '\t', '\r', ' \t\r']) {
      expect(classifyLogLine(Buffer.from(text), { fileStart: false, complete: true })).toEqual({
        kind: 'blank',
      });
    }
  });
});

describe('a byte order mark on the first line is dropped before the line is judged', () => {
  it.each([
    ['alone', '\ufeff\n'],
    ['with CR (a CRLF file)', '\ufeff\r\n'],
    ['with spaces', '\ufeff  \n'],
  ])('a first line of a BOM %s is blank', async (_what, first) => {
    const crlf = first.includes('\r') ? '\r\n' : '\n';
    const file = logOf(`${first}${META}${crlf}{"type":"a"}${crlf}`);
    expect(await outcomeOf(file)).toEqual({ records: [JSON.parse(META), { type: 'a' }] });
    const line = Buffer.from(first.replace('\n', ''));
    expect(classifyLogLine(line, { fileStart: true, complete: true })).toEqual({ kind: 'blank' });
    expect(classifyLogLine(line, { fileStart: false, complete: true })).toMatchObject({
      kind: 'corrupt',
    });
  });

  it('a BOM before the first record is still allowed; a BOM and a record on line 2 are not', async () => {
    expect(await outcomeOf(logOf(`\ufeff${META}\n`))).toEqual({ records: [JSON.parse(META)] });
    const failure = await outcomeOf(logOf(`${META}\n\ufeff{"type":"a"}\n`));
    expect(failure).toMatchObject({ name: 'RecordsCorruptError', line: 2, offset: LINE_2 });
  });
});

describe('bytes that are not UTF-8 are corrupt, not decoded to U+FFFD', () => {
  const bad: Array<[string, number[]]> = [
    ['0xFF 0xFE', [0xff, 0xfe]],
    ['a lone continuation byte', [0x80]],
    ['an overlong "/"', [0xc0, 0xaf]],
    ['an encoded surrogate (CESU-8)', [0xed, 0xa0, 0x80]],
    ['a sequence cut short', [0xe7, 0xb7]],
  ];

  it.each(bad)('%s inside a JSON string, at its line and byte offset', async (_what, bytes) => {
    const file = logOf(
      Buffer.concat([
        Buffer.from(`${META}\n{"type":"a","s":"`),
        Buffer.from(bytes),
        Buffer.from('"}\n{"type":"b"}\n'),
      ]),
    );
    const failure = await outcomeOf(file);
    expect(failure).toBeInstanceOf(RecordsCorruptError);
    expect(failure).toMatchObject({ line: 2, offset: LINE_2 });
    expect((failure as Error).message).toContain(`:2:${LINE_2}: not valid UTF-8.`);
  });

  it('deep in a multi-chunk log of non-ASCII text: the exact line and byte offset', async () => {
    const lines = Array.from({ length: 3000 }, (_, i) =>
      JSON.stringify({ type: 'turn.prompt', n: i, text: '編集 🙂 é '.repeat(20) }),
    );
    const bad = 2345;
    const parts = lines.map((line) => Buffer.from(`${line}\n`));
    parts[bad] = Buffer.concat([
      Buffer.from('{"type":"x","t":"é'),
      Buffer.from([0xff]),
      Buffer.from('"}\n'),
    ]);
    let offset = 0;
    for (let i = 0; i < bad; i++) offset += (parts[i] as Buffer).length;
    const failure = await outcomeOf(logOf(Buffer.concat(parts)));
    expect(failure).toMatchObject({ name: 'RecordsCorruptError', line: bad + 1, offset });
    expect((failure as Error).message).toContain('not valid UTF-8');
  });

  it('an earlier bad line in the same piece is reported first', async () => {
    const file = logOf(
      Buffer.concat([
        Buffer.from(`${META}\nnot json\n{"s":"`),
        Buffer.from([0xff]),
        Buffer.from('"}\n'),
      ]),
    );
    expect(await outcomeOf(file)).toMatchObject({ line: 2, offset: LINE_2 });
  });

  it('a last line without newline cut inside a character is torn (skipped), not corrupt', async () => {
    const cut = Buffer.from('{"type":"a","s":"編').subarray(0, -1);
    const file = logOf(Buffer.concat([Buffer.from(`${META}\n`), cut]));
    expect(await outcomeOf(file)).toEqual({ records: [JSON.parse(META)] });
    expect(classifyLogLine(cut, { fileStart: false, complete: false })).toEqual({ kind: 'torn' });
  });

  it('a last line without newline that is whole JSON with bytes not UTF-8 is corrupt', async () => {
    const line = Buffer.concat([
      Buffer.from('{"type":"a","s":"'),
      Buffer.from([0xff]),
      Buffer.from('"}'),
    ]);
    const failure = await outcomeOf(logOf(Buffer.concat([Buffer.from(`${META}\n`), line])));
    expect(failure).toMatchObject({ name: 'RecordsCorruptError', line: 2, offset: LINE_2 });
    expect(classifyLogLine(line, { fileStart: false, complete: false })).toEqual({
      kind: 'corrupt',
      reason: 'not valid UTF-8',
    });
  });

  it('valid UTF-8 (emoji, CJK, a BOM first) reads back exactly', async () => {
    const records = [JSON.parse(META), { type: 'a', s: '🙂 編集 é \u2028' }];
    const file = logOf(`\ufeff${records.map((r) => JSON.stringify(r)).join('\n')}\n`);
    expect(await outcomeOf(file)).toEqual({ records });
  });
});

describe('lines that parse but are not written by JSON.stringify, in a replay', () => {
  const notRecords: Array<[string, string]> = [
    ['an array', '[{"type":"a"}]'],
    ['an empty array', '[]'],
    ['null', 'null'],
    ['a number', '5'],
    ['a string', '"a"'],
    ['true', 'true'],
    ['an array after spaces', '  [1]'],
  ];

  it.each(notRecords)('%s is corrupt, at its line and byte offset', async (_what, text) => {
    const failure = await outcomeOf(logOf(`${META}\n${text}\n{"type":"a"}\n`));
    expect(failure).toBeInstanceOf(RecordsCorruptError);
    expect(failure).toMatchObject({ line: 2, offset: LINE_2 });
    expect((failure as Error).message).toContain(`:2:${LINE_2}: not a record: expected an object`);
  });

  it('a record after white space, with CR after it, or with a length field is a record', async () => {
    const records = [
      JSON.parse(META),
      { type: 'a' },
      { type: 'b', time: 2 },
      { type: 'c', length: 3 },
      { type: 'd', length: null },
    ];
    const file = logOf(
      `${META}\n \t{"type":"a"}\n{"type":"b","time":2}\r\n{"type":"c","length":3}\n` +
        '{"type":"d","length":null}\n',
    );
    expect(await outcomeOf(file)).toEqual({ records });
  });

  it('an array is corrupt even when Array.prototype and Object.prototype have a type', async () => {
    const file = logOf(`${META}\n[1]\n`);
    const prototypes = [Array.prototype, Object.prototype] as unknown as Array<
      Record<string, unknown>
    >;
    for (const proto of prototypes) proto.type = 'polluted';
    try {
      const failure = await outcomeOf(file);
      expect(failure).toBeInstanceOf(RecordsCorruptError);
      expect(failure).toMatchObject({ line: 2, offset: LINE_2 });
    } finally {
      for (const proto of prototypes) delete proto.type;
    }
  });
});

describe('classifyLogLine', () => {
  it('gives a record, and for JSON that is not a record the value and the problem', () => {
    expect(
      classifyLogLine(Buffer.from('{"type":"a"}'), { fileStart: false, complete: true }),
    ).toEqual({
      kind: 'record',
      record: { type: 'a' },
    });
    expect(classifyLogLine(Buffer.from('[1]'), { fileStart: false, complete: true })).toMatchObject(
      {
        kind: 'corrupt',
        notRecord: { value: [1] },
      },
    );
    expect(
      classifyLogLine(Buffer.from('{"type":"a"'), { fileStart: false, complete: true }),
    ).toMatchObject({
      kind: 'corrupt',
      reason: expect.stringMatching(/^not valid JSON/),
    });
  });
});
