import { describePersistenceModel } from '@agent-records/persistence-tests';
import { fileLogSubject } from '../test/subject.js';

// Faults the model injects in turn: a short write then ENOSPC, a failing fdatasync, a failing write.
const FAULTS = [
  { op: 'write', shortFirst: true },
  { op: 'fdatasync', shortFirst: false },
  { op: 'write', shortFirst: false },
] as const;
let injected = 0;

describePersistenceModel(
  'FileSystemAgentRecordPersistence',
  () =>
    fileLogSubject('fs-model-', (faults, error) => {
      const fault = FAULTS[injected++ % FAULTS.length] ?? FAULTS[0];
      faults.fail(fault.op, error, { shortFirst: fault.shortFirst });
    }),
  { runs: 150, expectCapabilities: ['readFrom', 'snapshots', 'title'] },
);
