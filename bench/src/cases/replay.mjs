// Case 4: replay of a prepared log, ours against the fastest readers written here.
import fs from 'node:fs';
import { AgentRecords } from '@agent-records/core';
import { FileSystemAgentRecordPersistence } from '@agent-records/fs-persistence';
import {
  fastReadAhead,
  fastReadAsync,
  fastReadSync,
  limitWrite,
  referenceRead,
  wholeFileRead,
} from '../baselines.mjs';
import { measure, oursPg } from '../lib/measure.mjs';
import { FILE_READERS } from '../names.mjs';
import { makeRecords } from '../records.mjs';

const METADATA = { type: 'metadata', protocol_version: '1.0', created_at: 1 };

/** Replays through the core, counting the records the host's restore is given. */
async function replayThrough(persistence) {
  let restored = 0;
  const records = new AgentRecords({
    persistence,
    protocolVersion: '1.0',
    restore: () => {
      restored++;
    },
  });
  const result = await measure(async () => {
    await records.replay();
    return { restored };
  });
  await persistence.close?.();
  return result;
}

const readers = {
  'readfile-split': (file) => wholeFileRead(file),
  'fast-sync': (file) => fastReadSync(file, 1 << 20),
  'fast-sync-pieces': (file) => fastReadSync(file, 1 << 20, { way: 'pieces' }),
  'fast-async': (file) => fastReadAsync(file, 1 << 20),
  'fast-async-pieces': (file) => fastReadAsync(file, 1 << 20, { way: 'pieces' }),
  'fast-async-4m': (file) => fastReadAsync(file, 4 << 20),
  reference: (file) => referenceRead(file),
  // Same work and guarantees as ours: the loop stays free, each record goes to a restore function.
  'fast-async-ahead': (file) => readAheadRestoring(file, 1 << 20),
  'fast-async-ahead-256k': (file) => readAheadRestoring(file, 256 << 10),
};

/** `fastReadAhead` giving each record to a restore function, as the core does ours. */
async function readAheadRestoring(file, chunkBytes) {
  let restored = 0;
  await fastReadAhead(file, chunkBytes, () => {
    restored++;
  });
  return restored;
}

/** The baseline readers (run.mjs builds its plan from it; names.mjs lists them for comparisons). */
export const REPLAY_BASELINES = Object.keys(readers);
const unnamed = REPLAY_BASELINES.filter((r) => !FILE_READERS.includes(r));
if (unnamed.length > 0) throw new Error(`names.mjs FILE_READERS lacks ${unnamed.join(', ')}`);

const replay = async ({ impl, count, file }) => {
  const bytes = fs.statSync(file).size;
  let result;
  if (impl === 'pg') result = await replayThrough(oursPg(`replay-${count}`).persistence);
  else if (readers[impl])
    result = await measure(async () => ({ restored: await readers[impl](file) }));
  else result = await replayThrough(new FileSystemAgentRecordPersistence(file, { lock: false }));
  return {
    ...result,
    records: count,
    bytes,
    recordsPerSec: count / (result.ms / 1000),
    mbPerSec: bytes / 2 ** 20 / (result.ms / 1000),
  };
};

export default {
  // Writes the log that the replay cases read.
  async prepare({ count, file }) {
    return { bytes: limitWrite(file, [METADATA, ...makeRecords(count)]) };
  },

  // Writes the session that the PostgreSQL replay cases read.
  async 'prepare-pg'({ count }) {
    const { persistence } = oursPg(`replay-${count}`);
    persistence.rewrite([METADATA, ...makeRecords(count)]);
    await persistence.close();
    return {};
  },

  replay,
  'replay-large': replay,
};
