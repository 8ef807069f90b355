// The commands fast-check strings together. Each runs one operation on the real backend and on
// the model, then checks that `read()` equals the model.
import type { AgentRecordEnvelope } from '@agent-records/types';
import fc from 'fast-check';
import { capabilityCommands, checkSnapshot } from './model-capabilities.js';
import {
  buildRecord,
  describeSpec,
  expectationOf,
  type RecordSpec,
  recordSpec,
  rewriteSpecs,
  snapshotOf,
} from './model-records.js';
import {
  awaitStore,
  checkRead,
  checkReports,
  errorCode,
  type LogModel,
  mismatch,
  type RealSystem,
  readAll,
  readStore,
  settleMaybes,
} from './model-state.js';

type Command = fc.AsyncCommand<LogModel, RealSystem, false>;
const always = () => true;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const EXPECTED_CODES = {
  'serialize-error': ['RECORDS_SERIALIZE'],
  'invalid-error': ['RECORDS_INVALID'],
  'serialize-or-invalid': ['RECORDS_SERIALIZE', 'RECORDS_INVALID'],
  'store-dependent': ['RECORDS_SERIALIZE', 'RECORDS_INVALID'],
} as const;

class AppendCommand implements Command {
  constructor(readonly spec: RecordSpec) {}
  check = always;
  async run(model: LogModel, real: RealSystem) {
    const expectation = expectationOf(this.spec, real.refusals);
    const { value, after } = buildRecord(this.spec, model.nextId++);
    const snapshot = expectation === 'stored' ? snapshotOf(value) : undefined;
    let thrown: unknown;
    let threw = false;
    try {
      real.persistence.append(value as AgentRecordEnvelope);
    } catch (error) {
      thrown = error;
      threw = true;
    }
    after?.();
    const where = `append(${describeSpec(this.spec)})`;
    if (expectation === 'stored') {
      if (threw) throw new Error(`${where} threw ${errorCode(thrown)}: ${String(thrown)}`);
      model.records.push({ value: snapshot, maybe: false });
      model.mutations.push(mutationOf(value));
    } else {
      const codes: readonly string[] = EXPECTED_CODES[expectation];
      if (threw && !codes.includes(errorCode(thrown))) {
        throw new Error(
          `${where} threw ${errorCode(thrown)} (${String(thrown)}), not ${codes.join(' or ')}`,
        );
      }
      if (!threw && expectation !== 'store-dependent') {
        throw new Error(`${where} was accepted; it must throw ${codes.join(' or ')}`);
      }
      if (!threw) model.records.push({ value: snapshotOf(value), maybe: true });
    }
    await checkRead(model, real, where);
  }
  toString() {
    return `append(${describeSpec(this.spec)})`;
  }
}

/** A host changing an object after handing it to append (possibly while a batch is in flight). */
function mutationOf(value: unknown): () => void {
  return () => {
    const target = value as Record<string, unknown>;
    try {
      target.type = 'model.mutated-later';
      target.text = 'changed after append';
      target.extra = { late: true };
    } catch {
      // toJSON-made or frozen values: nothing to mutate.
    }
  };
}

class MutateEarlierCommand implements Command {
  constructor(readonly pick: number) {}
  check = (model: Readonly<LogModel>) => model.mutations.length > 0;
  async run(model: LogModel, real: RealSystem) {
    model.mutations[this.pick % model.mutations.length]?.();
    await checkRead(model, real, this.toString());
  }
  toString() {
    return `mutate an earlier appended object (#${this.pick})`;
  }
}

class FlushCommand implements Command {
  check = always;
  async run(model: LogModel, real: RealSystem) {
    const outcome = await real.persistence.flush().then(
      () => null,
      (error: unknown) => error ?? new Error('flush rejected with nothing'),
    );
    if (outcome !== null) {
      if (!model.faulted) {
        throw new Error(
          `flush() rejected with no fault on: ${errorCode(outcome)} ${String(outcome)}`,
        );
      }
      if (errorCode(outcome) !== 'RECORDS_WRITE_FAILED') {
        throw new Error(
          `flush() during a fault rejected with ${errorCode(outcome)}, not RECORDS_WRITE_FAILED`,
        );
      }
      await checkRead(model, real, 'a rejected flush()');
      return;
    }
    settleMaybes(model, await readAll(real.persistence));
    if (!model.faulted) model.mayBeLatched = false;
    // Every snapshot asked for before it is stored or dropped now.
    model.flushed();
    await checkRead(model, real, 'flush()');
    checkReports(model, real, 'flush()');
    await checkSnapshot(model, real, 'flush()');
    const stored = await readStore(real);
    const problem = stored && mismatch(stored, model.records);
    if (problem) throw new Error(`after flush() resolved, a fresh reader differs: ${problem}`);
  }
  toString() {
    return 'flush()';
  }
}

class RewriteCommand implements Command {
  constructor(readonly specs: RecordSpec[]) {}
  check = always;
  async run(model: LogModel, real: RealSystem) {
    const values = this.specs.map((spec) => buildRecord(spec, model.nextId++).value);
    real.persistence.rewrite(values as AgentRecordEnvelope[]);
    model.records = values.map((value) => ({ value: snapshotOf(value), maybe: false }));
    model.rewritten();
    await checkRead(model, real, this.toString());
  }
  toString() {
    return `rewrite([${this.specs.map(describeSpec).join(', ')}])`;
  }
}

class ReadCommand implements Command {
  constructor(readonly breakAfter: number) {}
  check = always;
  async run(model: LogModel, real: RealSystem) {
    // A reader that stops early must leave the persistence usable.
    await readAll(real.persistence, this.breakAfter);
    await checkRead(model, real, this.toString());
  }
  toString() {
    return `read() broken off after ${this.breakAfter}`;
  }
}

class IdleCommand implements Command {
  constructor(readonly ms: number) {}
  check = always;
  async run(model: LogModel, real: RealSystem) {
    await sleep(this.ms);
    await checkRead(model, real, this.toString());
    if (!model.mayBeLatched) await awaitStore(model, real, this.toString());
  }
  toString() {
    return `idle ${this.ms} ms`;
  }
}

class ReopenCommand implements Command {
  check = (model: Readonly<LogModel>) => !model.faulted;
  async run(model: LogModel, real: RealSystem) {
    await real.persistence.close().catch((error: unknown) => {
      throw new Error(`close() rejected with no fault on: ${errorCode(error)} ${String(error)}`);
    });
    real.persistence = real.open();
    model.mayBeLatched = false;
    model.flushed();
    settleMaybes(model, await readAll(real.persistence));
    await checkRead(model, real, 'close() and reopen');
    checkReports(model, real, 'close() and reopen');
    await checkSnapshot(model, real, 'close() and reopen');
  }
  toString() {
    return 'close() and reopen';
  }
}

class InjectFaultCommand implements Command {
  check = (model: Readonly<LogModel>) => !model.faulted;
  async run(model: LogModel, real: RealSystem) {
    const inject = real.subject.injectWriteFault?.bind(real.subject);
    if (!inject) return;
    const error = Object.assign(new Error('model: injected write fault'), { code: 'EIO' });
    real.fault = await inject(real.persistence, error);
    model.faulted = true;
    model.snapshotDue = null; // its write may fail now: dropped, as a warning
    model.mayBeLatched = true;
    model.everFaulted = true;
    await checkRead(model, real, this.toString());
  }
  toString() {
    return 'inject a write fault';
  }
}

class ClearFaultCommand implements Command {
  check = (model: Readonly<LogModel>) => model.faulted;
  async run(model: LogModel, real: RealSystem) {
    await real.fault?.clear();
    real.fault = undefined;
    model.faulted = false;
    await checkRead(model, real, this.toString());
  }
  toString() {
    return 'clear the write fault';
  }
}

/** Every command, weighted so that appends dominate and the rest interleave. */
export function commandArbitraries(withFaults: boolean): Array<fc.Arbitrary<Command>> {
  const commands: Array<fc.Arbitrary<Command>> = [
    recordSpec.map((spec) => new AppendCommand(spec)),
    recordSpec.map((spec) => new AppendCommand(spec)),
    recordSpec.map((spec) => new AppendCommand(spec)),
    fc.nat(50).map((pick) => new MutateEarlierCommand(pick)),
    fc.constant(new FlushCommand()),
    rewriteSpecs.map((specs) => new RewriteCommand(specs)),
    fc.integer({ min: 0, max: 5 }).map((n) => new ReadCommand(n)),
    fc.integer({ min: 0, max: 25 }).map((ms) => new IdleCommand(ms)),
    fc.constant(new ReopenCommand()),
    ...capabilityCommands(),
  ];
  if (withFaults) {
    commands.push(fc.constant(new InjectFaultCommand()), fc.constant(new ClearFaultCommand()));
  }
  return commands;
}
