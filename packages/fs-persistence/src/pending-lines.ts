// The lines queued for the log, kept as the bytes the writer will write.

const NEWLINE = 0x0a;
/** The first block's size, and the smallest: an idle log holds no more than this. */
const MIN_BLOCK_BYTES = 16 * 1024;
/** The largest block made for many small lines. */
const MAX_BLOCK_BYTES = 1024 * 1024;

/**
 * Encodes `line` into `bytes` at `offset`. Buffer's own UTF-8 writer where it has one (every
 * Node.js release this package supports): `write` checks its arguments in JavaScript of Node's
 * own, which V8 optimised on its own only after ~2,800 durable appends, and those compiles
 * stalled the appends they coincided with (see docs/decisions.md 12).
 */
const writeUtf8: (bytes: Buffer, line: string, offset: number) => void =
  typeof (Buffer.prototype as { utf8Write?: unknown }).utf8Write === 'function'
    ? (bytes, line, offset) => {
        (bytes as unknown as { utf8Write(s: string, o: number): number }).utf8Write(line, offset);
      }
    : (bytes, line, offset) => {
        bytes.write(line, offset, 'utf8');
      };

interface Block {
  /** Stream offset of `bytes[0]`. */
  readonly base: number;
  readonly bytes: Buffer;
  /** Bytes of `bytes` holding lines; never rewritten once written (readers may hold views). */
  used: number;
}

/**
 * The queued lines as UTF-8, each followed by its newline, in the order they were added: one
 * stream of bytes, exactly what the writer appends to the log, addressed by stream offsets.
 *
 * Why bytes and not strings: a line waits in the queue while the writer's previous batch is
 * written and synced, so under a burst of logging most queued lines outlive a scavenge or two.
 * Kept as strings they were copied by each scavenge and then promoted (the bench's batched
 * append: ~4 MB survived per scavenge, scavenges of 10-17 ms, the longest event-loop stall). As
 * bytes they are off the JS heap from the moment they are logged, encoded once, and written
 * straight from here with no copy.
 *
 * The stream lives in blocks that are filled, never rewritten, and dropped once every line in
 * them is written or superseded: a view handed out (to a write in flight, to a reader's view of
 * the queue) stays valid for as long as it is held. A line never spans two blocks; a block grows
 * with the bytes waiting, from 16 KiB up to 1 MiB, so an idle log holds little; a line longer
 * than half the block it would start gets a block of exactly its size, so the bytes held stay
 * close to the bytes queued (what `maxPendingBytes` bounds).
 */
export class PendingLines {
  /** Oldest first; the last one is being filled. */
  #blocks: Block[] = [];
  #end = 0;

  /** Bytes of the blocks held (what the queued lines cost in memory). */
  get heldBytes(): number {
    return this.#blocks.reduce((sum, block) => sum + block.bytes.length, 0);
  }

  /** The stream offset after the last line added. */
  get end(): number {
    return this.#end;
  }

  /** Adds `line`, which is `bytes` long in UTF-8, and its newline; returns its stream offset. */
  add(line: string, bytes: number): number {
    const start = this.#end;
    let block = this.#blocks[this.#blocks.length - 1];
    if (block === undefined || block.bytes.length - block.used < bytes + 1) {
      block = this.#newBlock(start, bytes + 1);
    }
    writeUtf8(block.bytes, line, block.used);
    block.bytes[block.used + bytes] = NEWLINE;
    block.used += bytes + 1;
    this.#end = start + bytes + 1;
    return start;
  }

  /** The block holding the byte at stream offset `offset` (the newest first: the usual one). */
  #blockAt(offset: number): Block {
    for (let i = this.#blocks.length - 1; i >= 0; i--) {
      const block = this.#blocks[i] as Block;
      if (block.base <= offset) return block;
    }
    throw new Error(`no queued line at stream offset ${offset}`);
  }

  /**
   * The bytes from the line at `first` to the end of the line at `last` (newline included), one
   * view per block they span. Each view holds whole lines.
   */
  views(first: number, last: number): Buffer[] {
    const lastBlock = this.#blockAt(last);
    const end = lastBlock.bytes.indexOf(NEWLINE, last - lastBlock.base) + 1 + lastBlock.base;
    // The usual batch (a durable append, a small burst) lies in one block.
    if (first >= lastBlock.base) {
      return [lastBlock.bytes.subarray(first - lastBlock.base, end - lastBlock.base)];
    }
    return this.#spanningViews(first, lastBlock, end);
  }

  /** {@link views} of lines from `first` that start in an earlier block than `lastBlock`. */
  #spanningViews(first: number, lastBlock: Block, end: number): Buffer[] {
    const views: Buffer[] = [];
    for (let i = this.#blocks.indexOf(this.#blockAt(first)); i < this.#blocks.length; i++) {
      const block = this.#blocks[i] as Block;
      const from = Math.max(first, block.base) - block.base;
      const to = Math.min(end, block.base + block.used) - block.base;
      if (to > from) views.push(block.bytes.subarray(from, to));
      if (block === lastBlock) break;
    }
    return views;
  }

  /**
   * Forgets the blocks whose lines all lie before `offset` (written, or superseded by a
   * rewrite). The block being filled is kept unless nothing waits in it and it is large.
   */
  releaseBefore(offset: number): void {
    let keep = 0;
    while (keep < this.#blocks.length - 1) {
      const block = this.#blocks[keep] as Block;
      if (block.base + block.used > offset) break;
      keep++;
    }
    if (keep > 0) this.#blocks = this.#blocks.slice(keep);
    const last = this.#blocks[this.#blocks.length - 1];
    if (last && offset >= this.#end && last.bytes.length > MIN_BLOCK_BYTES) this.#blocks = [];
  }

  /** Forgets every line (the queue was cleared). */
  clear(): void {
    this.#blocks = [];
  }

  /** A new block for a line of `size` bytes, sized by the bytes waiting before it. */
  #newBlock(base: number, size: number): Block {
    const waiting = this.#blocks.reduce((sum, block) => sum + block.used, 0);
    let capacity = MIN_BLOCK_BYTES;
    while (capacity < MAX_BLOCK_BYTES && capacity < waiting) capacity *= 2;
    if (size * 2 > capacity) capacity = size; // a long line: a block of its own
    const block = { base, bytes: Buffer.allocUnsafeSlow(capacity), used: 0 };
    this.#blocks.push(block);
    return block;
  }
}
