import { appendFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { pollUntil } from '../test/poll.js';
import { useTempDir } from '../test/temp-dir.js';
import { type FileOperations, nodeFileOperations } from './file-operations.js';
import { readLogSummary } from './summary.js';
import { SummaryKeeper } from './summary-keeper.js';

const temp = useTempDir('summary-keeper-');

/** Real file operations whose `open(log, 'r')` number `held` waits until `release()`. */
function holdingOpen(log: string, held: number) {
  let opens = 0;
  let release!: () => void;
  const released = new Promise<void>((resolve) => {
    release = resolve;
  });
  let entered!: () => void;
  const holding = new Promise<void>((resolve) => {
    entered = resolve;
  });
  const ops: FileOperations = {
    ...nodeFileOperations,
    open: async (file, flags, mode) => {
      if (file === log && flags === 'r' && ++opens === held) {
        entered();
        await released;
      }
      return nodeFileOperations.open(file, flags, mode);
    },
  };
  return { ops, holding, release };
}

describe('SummaryKeeper', () => {
  it('stores a record count and a size of the same moment when a batch lands during a write', async () => {
    const log = path.join(temp.dir, 'log.jsonl');
    writeFileSync(log, '');
    // Open 1 counts the empty log; open 2 is the first summary write looking up the log's
    // identity: held while a batch lands.
    const { ops, holding, release } = holdingOpen(log, 2);
    const keeper = new SummaryKeeper(log, ops, 0o600);
    keeper.opened(0);
    await holding;
    const line = '{"type":"a"}\n';
    appendFileSync(log, line);
    keeper.appended(1, Buffer.byteLength(line));
    release();
    const first = await pollUntil(
      () => readLogSummary(log).then((summary) => summary ?? undefined),
      () => 'no summary written',
    );
    // Whatever moment it describes, its count is of the bytes it names (a listing adds the
    // lines after `bytes` to `records`: 1 and 0 bytes listed this one-record log as 2).
    expect(first.records).toBe(first.bytes === 0 ? 0 : 1);
    await keeper.close();
    const last = await readLogSummary(log);
    expect([last?.records, last?.bytes]).toEqual([1, Buffer.byteLength(line)]);
  });
});
