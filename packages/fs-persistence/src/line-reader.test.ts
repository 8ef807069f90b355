import { closeSync, openSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { useTempDir } from '../test/temp-dir.js';
import { nodeFileOperations } from './file-operations.js';
import { readLineBlocks } from './line-reader.js';

const temp = useTempDir('fs-line-reader-');

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
