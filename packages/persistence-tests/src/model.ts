import type { RecordsErrorInfo } from '@agent-records/types';
import fc from 'fast-check';
import { describe, it } from 'vitest';
import { capabilitiesOf, missingCapabilities, type PersistenceCapability } from './capabilities.js';
import type { PersistenceContractSubject } from './contract.js';
import { checkSnapshot } from './model-capabilities.js';
import { commandArbitraries } from './model-commands.js';
import type { StoreRefusals } from './model-records.js';
import {
  checkRead,
  checkReports,
  LogModel,
  type RealSystem,
  readAll,
  settleMaybes,
} from './model-state.js';

export type { StoreRefusals } from './model-records.js';

export interface PersistenceModelOptions {
  /**
   * Random command sequences per property in quick mode (default 100). `AGENT_RECORDS_MODEL_RUNS`
   * in the environment overrides it, for a full run (`AGENT_RECORDS_MODEL_RUNS=10000`).
   */
  runs?: number;
  /** Longest command sequence (default 30). */
  maxCommands?: number;
  /** fast-check seed, to replay a reported failure (default: `AGENT_RECORDS_MODEL_SEED`, else random). */
  seed?: number;
  /** What the store cannot hold and refuses (reported, never blocking later records). */
  refuses?: StoreRefusals;
  /** How long queued appends may take to reach the store with nobody flushing (default 10,000 ms). */
  drainDeadlineMs?: number;
  /** Per-property timeout in ms (default: 600,000, or scaled up for a full run). */
  timeout?: number;
  /**
   * The optional capabilities the backend claims (`readFrom`, `snapshots`, `title`). The
   * sequences use those the backend has, found on the persistence each sequence opens; one
   * claimed here and missing fails the property, naming it.
   */
  expectCapabilities?: readonly PersistenceCapability[];
}

function envNumber(name: string): number | undefined {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return undefined;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < 0) {
    throw new Error(`${name}=${JSON.stringify(raw)} is not a non-negative number`);
  }
  return value;
}

/**
 * The seed to replay from `AGENT_RECORDS_MODEL_SEED`: any integer, negative ones included, since
 * fast-check reports seeds like -75446441 and the seed it printed must replay its run.
 */
export function modelSeedFromEnv(
  raw: string | undefined = process.env.AGENT_RECORDS_MODEL_SEED,
): number | undefined {
  if (raw === undefined || raw.trim() === '') return undefined;
  const value = Number(raw);
  if (!Number.isSafeInteger(value)) {
    throw new Error(
      `AGENT_RECORDS_MODEL_SEED=${JSON.stringify(raw)} is not an integer: give the seed fast-check printed (e.g. -75446441).`,
    );
  }
  return value;
}

/**
 * Registers model-based tests (vitest + fast-check) for one backend: random sequences of append
 * (hostile records included), flush, rewrite, read, idle waits, close-and-reopen and, when the
 * subject has `injectWriteFault`, write faults, each checked against a plain in-memory model.
 * `factory` is called once per sequence and returns a fresh, empty log; give the subject an
 * `openReader` so the suite can check what reached the store while a writer is open.
 *
 * ```ts
 * describePersistenceModel('my backend', () => ({
 *   open: (options) => new MyPersistence(location, options),
 *   openReader: () => new MyPersistence(location),
 * }));
 * ```
 */
export function describePersistenceModel(
  name: string,
  factory: () => PersistenceContractSubject | Promise<PersistenceContractSubject>,
  options: PersistenceModelOptions = {},
): void {
  const runs = envNumber('AGENT_RECORDS_MODEL_RUNS') ?? options.runs ?? 100;
  const seed = options.seed ?? modelSeedFromEnv();
  const maxCommands = options.maxCommands ?? 30;
  const timeout = options.timeout ?? Math.max(600_000, runs * 2_000);

  const runSequences = async (withFaults: boolean) => {
    const property = fc.asyncProperty(
      fc.commands(commandArbitraries(withFaults), { maxCommands }),
      async (commands) => {
        // A macrotask turn per sequence: a backend that settles everything in microtasks (the
        // in-memory one) would otherwise starve the test runner's own messages for the whole
        // property, and vitest fails the run with "Timeout calling onTaskUpdate" on a busy host.
        await new Promise((resolve) => setImmediate(resolve));
        const subject = await factory();
        const reports: RealSystem['reports'] = [];
        const onError = (error: Error, info: RecordsErrorInfo) => reports.push({ error, info });
        const real: RealSystem = {
          subject,
          reports,
          refusals: options.refuses ?? {},
          drainDeadlineMs: options.drainDeadlineMs ?? 10_000,
          open: () => subject.open({ onError }),
          persistence: subject.open({ onError }),
        };
        const model = new LogModel();
        model.capabilities = capabilitiesOf(real.persistence);
        try {
          const missing = missingCapabilities(model.capabilities, options.expectCapabilities ?? []);
          if (missing) throw new Error(`the persistence claims ${missing} but lacks it`);
          await fc.asyncModelRun(() => ({ model, real }), commands);
          // Whatever the sequence did, the end state must be durable across a reopen.
          if (model.faulted) {
            await real.fault?.clear();
            model.faulted = false;
          }
          await real.persistence.close();
          real.persistence = real.open();
          settleMaybes(model, await readAll(real.persistence));
          model.flushed();
          await checkRead(model, real, 'the sequence, a final close() and reopen');
          checkReports(model, real, 'the sequence');
          await checkSnapshot(model, real, 'the sequence, a final close() and reopen');
        } finally {
          await real.fault?.clear();
          await real.persistence.close().catch(() => {});
          await subject.cleanup?.();
        }
      },
    );
    await fc.assert(property, { numRuns: runs, ...(seed === undefined ? {} : { seed }) });
  };

  describe(`persistence model: ${name}`, () => {
    it(
      `matches the model over ${runs} random command sequences`,
      () => runSequences(false),
      timeout,
    );
    it(
      `matches the model over ${runs} random command sequences with write faults`,
      async (context) => {
        const probe = await factory();
        const canFault = typeof probe.injectWriteFault === 'function';
        await probe.cleanup?.();
        if (!canFault) {
          context.skip('the factory provides no injectWriteFault hook');
          return;
        }
        await runSequences(true);
      },
      timeout,
    );
  });
}
