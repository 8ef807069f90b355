import { closeSync, openSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { useTempDir } from '../test/temp-dir.js';
import { type FileOperations, nodeFileOperations } from './file-operations.js';
import { readLineBlocks } from './line-reader.js';

const temp = useTempDir('fs-line-reader-');
afterEach(() => {
  vi.restoreAllMocks();
});

describe('readLineBlocks', () => {
  // The reader fuzz's shrunk counterexample: [0,0,0,0,10,10], chunks of 2, lines of at most 2.
  it('a line right after an over-long line, in the chunk that ends it, has its own byte offset', async () => {
    const file = path.join(temp.dir, 'log.jsonl');
    writeFileSync(file, Buffer.from([0, 0, 0, 0, 0x0a, 0x0a]));
    const fd = openSync(file, 'r');
    const blocks: Array<[number, number, number | undefined, string]> = [];
    try {
      for await (const block of readLineBlocks(nodeFileOperations, fd, {
        chunkSize: 2,
        maxLineBytes: 2,
      })) {
        blocks.push([block.firstLine, block.offset, block.oversized, block.bytes.toString()]);
      }
    } finally {
      closeSync(fd);
    }
    expect(blocks).toEqual([
      [1, 0, 4, ''],
      [2, 5, undefined, ''],
    ]);
  });
});

describe('readLineBlocks reads ahead', () => {
  it('has no read in flight once a caller that stopped early is done, so it may close the file', async () => {
    const file = path.join(temp.dir, 'ahead.jsonl');
    writeFileSync(file, 'a\nb\nc\nd\n');
    let inFlight = 0;
    let most = 0;
    const ops: FileOperations = {
      ...nodeFileOperations,
      async read(...args) {
        most = Math.max(most, ++inFlight);
        try {
          return await nodeFileOperations.read(...args);
        } finally {
          inFlight--;
        }
      },
    };
    const fd = openSync(file, 'r');
    const seen: string[] = [];
    try {
      for await (const block of readLineBlocks(ops, fd, { chunkSize: 2 })) {
        seen.push(block.bytes.toString());
        // The next chunk is being read while this block is used: the point of reading ahead.
        expect(inFlight).toBe(1);
        break;
      }
      expect(inFlight).toBe(0);
    } finally {
      closeSync(fd);
    }
    expect([seen, most]).toEqual([['a'], 1]);
  });
});

describe('readLineBlocks copies', () => {
  it('joins no block of short lines (only the start of a cut line is copied, into the other buffer)', async () => {
    const file = path.join(temp.dir, 'short.jsonl');
    const line = `{"type":"turn.prompt","text":"${'word '.repeat(50)}"}\n`;
    writeFileSync(file, line.repeat(4000)); // ~1 MB: several 256 KiB chunks
    let concatenated = 0;
    const concat = Buffer.concat;
    vi.spyOn(Buffer, 'concat').mockImplementation((list, length) => {
      const joined = concat(list, length);
      concatenated += joined.length;
      return joined;
    });
    const fd = openSync(file, 'r');
    let lines = 0;
    let bytes = 0;
    try {
      for await (const block of readLineBlocks(nodeFileOperations, fd)) {
        lines += block.bytes.toString().split('\n').length;
        bytes += block.bytes.length + 1;
      }
    } finally {
      closeSync(fd);
    }
    expect([lines, bytes]).toEqual([4000, line.length * 4000]);
    // Joining the cut line onto each block copied the whole file once more.
    expect(concatenated).toBe(0);
  });
});
