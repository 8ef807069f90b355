// The shared store suite of @agent-records/persistence-tests (list, paging, summaries, titles,
// snapshots, delete, and a model of random open/append/title/delete/list sequences) on the file
// store, each subject in a fresh folder.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describeStoreContract } from '@agent-records/persistence-tests';
import { FileSystemAgentRecordStore } from './store.js';

describeStoreContract(
  'FileSystemAgentRecordStore',
  () => {
    const root = mkdtempSync(path.join(tmpdir(), 'fs-store-contract-'));
    return {
      store: new FileSystemAgentRecordStore(path.join(root, 'sessions'), { onError: () => {} }),
      cleanup: () => rmSync(root, { recursive: true, force: true }),
    };
  },
  { expectCapabilities: ['readFrom', 'snapshots', 'title'], singleWriter: true },
);
