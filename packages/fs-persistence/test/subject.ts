// The file backend as the shared suites of @agent-records/persistence-tests see it: the contract
// suite and the model-based suite open the same kind of subject, only their faults differ.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { PersistenceContractSubject } from '@agent-records/persistence-tests';
import { FileSystemAgentRecordPersistence } from '../src/fs-persistence.js';
import { FaultyFileSystem } from './faulty-fs.js';

/**
 * One log in a fresh folder named `<prefix><random>`, written through the fault seam; readers
 * open it without the seam (and take no lock). `inject` makes the disk fail with `error`.
 */
export function fileLogSubject(
  prefix: string,
  inject: (faults: FaultyFileSystem, error: Error) => void,
): PersistenceContractSubject {
  const root = mkdtempSync(path.join(tmpdir(), prefix));
  const file = path.join(root, 'session.jsonl');
  const faults = new FaultyFileSystem();
  return {
    open: (options) =>
      new FileSystemAgentRecordPersistence(file, {
        onError: options?.onError ?? (() => {}),
        fileOperations: faults.ops,
      }),
    openReader: () => new FileSystemAgentRecordPersistence(file, { onError: () => {} }),
    injectWriteFault: (_persistence, error) => {
      inject(faults, error);
      return { clear: () => faults.clear() };
    },
    cleanup: () => rmSync(root, { recursive: true, force: true }),
  };
}
