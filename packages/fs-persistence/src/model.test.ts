import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describePersistenceModel } from '@agent-records/persistence-tests';
import { FaultyFileSystem } from '../test/faulty-fs.js';
import { FileSystemAgentRecordPersistence } from './fs-persistence.js';

// Faults the model injects in turn: a short write then ENOSPC, a failing fdatasync, a failing write.
const FAULTS = [
  { op: 'write', shortFirst: true },
  { op: 'fdatasync', shortFirst: false },
  { op: 'write', shortFirst: false },
] as const;
let injected = 0;

describePersistenceModel(
  'FileSystemAgentRecordPersistence',
  () => {
    const root = mkdtempSync(path.join(tmpdir(), 'fs-model-'));
    const file = path.join(root, 'session.jsonl');
    const faults = new FaultyFileSystem();
    return {
      open: (options) =>
        new FileSystemAgentRecordPersistence(file, {
          onError: options?.onError ?? (() => {}),
          fileOperations: faults.ops,
        }),
      // A second instance that only reads: readers take no lock.
      openReader: () => new FileSystemAgentRecordPersistence(file, { onError: () => {} }),
      injectWriteFault: (_persistence, error) => {
        const fault = FAULTS[injected++ % FAULTS.length] ?? FAULTS[0];
        faults.fail(fault.op, error, { shortFirst: fault.shortFirst });
        return { clear: () => faults.clear() };
      },
      cleanup: () => rmSync(root, { recursive: true, force: true }),
    };
  },
  { runs: 150 },
);
