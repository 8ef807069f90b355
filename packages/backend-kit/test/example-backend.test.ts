import { readFileSync } from 'node:fs';
import {
  describePersistenceContract,
  describePersistenceModel,
  type PersistenceContractSubject,
} from '@agent-records/persistence-tests';
import { describe, expect, it } from 'vitest';
import { ArrayLogPersistence, type LineStore } from '../examples/array-log-persistence.js';

// The README's example backend, run through the contract suite and the model suite: the example
// is a working backend, not a sketch.
function subject(): PersistenceContractSubject {
  const store: LineStore = { lines: [] };
  return {
    open: (options) => new ArrayLogPersistence(store, { onError: options?.onError }),
    // A second persistence on the same store, only read: what has reached the store.
    openReader: () => new ArrayLogPersistence({ lines: store.lines.slice() }),
    injectWriteFault: (_persistence, error) => {
      store.failWith = error;
      return {
        clear: () => {
          store.failWith = null;
        },
      };
    },
  };
}

describePersistenceContract('ArrayLogPersistence (the README example)', subject, {
  largeLogRecords: 20_000,
  expectCapabilities: ['readFrom', 'snapshots'],
});
describePersistenceModel('ArrayLogPersistence (the README example)', subject, {
  runs: 100,
  expectCapabilities: ['readFrom', 'snapshots'],
});

describe('the README', () => {
  it('shows the example backend exactly as tested here', () => {
    const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
    const example = readFileSync(
      new URL('../examples/array-log-persistence.ts', import.meta.url),
      'utf8',
    );
    expect(readme).toContain(`\`\`\`ts file=array-log-persistence.ts\n${example}\`\`\``);
  });
});
