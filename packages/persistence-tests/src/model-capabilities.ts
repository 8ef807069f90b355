// The commands for the optional capabilities (issue 15), in the same random sequences as the
// appends: writeSnapshot (data a string, a slow promise, or one that rejects), readSnapshot
// checked against the model through readFrom, readFrom from the start or from any position read
// earlier, and setTitle. Each runs only when the backend offers the capability.
import { isDeepStrictEqual } from 'node:util';
import type { RecordsPosition, StoredSnapshot } from '@agent-records/types';
import fc from 'fast-check';
import {
  checkRead,
  errorCode,
  type LogModel,
  type ModelSnapshot,
  mismatch,
  type RealSystem,
} from './model-state.js';
import { readFromAll } from './read-from.js';

type Command = fc.AsyncCommand<LogModel, RealSystem, false>;
type DataKind = 'string' | 'slow' | 'reject';

const utf8 = (text: string) => Buffer.byteLength(text, 'utf8');

class WriteSnapshotCommand implements Command {
  constructor(
    readonly kind: DataKind,
    readonly delayMs: number,
  ) {}
  // A record the store may still refuse would make the covered records uncertain.
  check = (model: Readonly<LogModel>) => model.capabilities.has('snapshots') && model.settled;
  async run(model: LogModel, real: RealSystem) {
    const id = model.nextSnapshot++;
    const spec: ModelSnapshot = {
      covered: model.records.map((record) => record.value),
      rewrites: model.rewrites,
      rejects: this.kind === 'reject',
    };
    model.snapshots.set(id, spec);
    const text = JSON.stringify({ snapshot: id, note: 'é😀 \u2028' });
    const data =
      this.kind === 'string'
        ? text
        : this.kind === 'slow'
          ? new Promise<string>((resolve) => setTimeout(() => resolve(text), this.delayMs))
          : new Promise<string>((_resolve, reject) =>
              setTimeout(() => reject(new Error('model: snapshot data refused')), this.delayMs),
            );
    let result: unknown;
    try {
      result = real.persistence.writeSnapshot?.({ records: spec.covered.length, data });
    } catch (error) {
      throw new Error(`writeSnapshot threw ${errorCode(error)}: ${String(error)} (it never may)`);
    }
    if (result !== undefined) throw new Error('writeSnapshot returned a value; it returns nothing');
    // A newer snapshot may supersede an older one still being made, silently (only the newest
    // counts): a rejection is owed a warning only while it is the newest asked for.
    model.unreportedRejection = spec.rejects;
    // Stored by the next resolved flush, unless a fault (a failing snapshot write) intervenes.
    if (!spec.rejects && !model.faulted && !model.mayBeLatched) model.snapshotDue = id;
    await checkRead(model, real, this.toString());
  }
  toString() {
    return `writeSnapshot(data ${this.kind}${this.kind === 'string' ? '' : ` after ${this.delayMs} ms`})`;
  }
}

/**
 * `readSnapshot()` gives nothing, or a snapshot that was asked for (never one whose data
 * rejected), of the log as it is (its position yields exactly the records the model holds after
 * those it covers), or of an older log (then its position must no longer hold). After a flush
 * stored one, it gives that one or a newer one.
 */
export async function checkSnapshot(model: LogModel, real: RealSystem, after: string) {
  if (!model.capabilities.has('snapshots')) return;
  const fail = (why: string) => {
    throw new Error(`after ${after}, readSnapshot(): ${why}`);
  };
  const snapshot = (await real.persistence.readSnapshot?.()) as StoredSnapshot | null;
  if (snapshot === null) {
    if (model.snapshotStored !== null)
      fail(`null, but snapshot ${model.snapshotStored} was stored`);
    return;
  }
  let id: unknown;
  try {
    id = (JSON.parse(snapshot.data) as { snapshot?: unknown }).snapshot;
  } catch {
    fail(`its data is not what writeSnapshot was given: ${snapshot.data.slice(0, 80)}`);
  }
  const spec = model.snapshots.get(id as number);
  if (!spec) return fail(`its data names no snapshot asked for: ${snapshot.data.slice(0, 80)}`);
  if (spec.rejects) fail(`snapshot ${id} was stored although its data rejected`);
  if (model.snapshotStored !== null && (id as number) < model.snapshotStored) {
    fail(`snapshot ${id} is older than snapshot ${model.snapshotStored}, which a flush stored`);
  }
  if (snapshot.records !== spec.covered.length) {
    fail(`records ${snapshot.records}, but writeSnapshot was given ${spec.covered.length}`);
  }
  if (snapshot.bytes !== utf8(snapshot.data)) {
    fail(`bytes ${snapshot.bytes}, but its data is ${utf8(snapshot.data)} bytes in UTF-8`);
  }
  if (!model.capabilities.has('readFrom')) return;
  const tail = await readFromAll(real.persistence, snapshot.position).catch((error: unknown) => {
    if (errorCode(error) === 'RECORDS_POSITION') return null;
    throw error;
  });
  if (spec.rewrites !== model.rewrites) {
    if (tail !== null) fail(`snapshot ${id} is of a log since rewritten, yet its position holds`);
    return;
  }
  if (tail === null) return fail(`the position of snapshot ${id} no longer holds, yet no rewrite`);
  const actual = [...spec.covered, ...tail.flatMap((batch) => batch.records)];
  const problem = mismatch(actual, model.records);
  if (problem) fail(`snapshot ${id}'s records and readFrom(its position) differ: ${problem}`);
}

class ReadSnapshotCommand implements Command {
  check = (model: Readonly<LogModel>) => model.capabilities.has('snapshots');
  async run(model: LogModel, real: RealSystem) {
    await checkSnapshot(model, real, 'readSnapshot()');
  }
  toString() {
    return 'readSnapshot() and readFrom(its position)';
  }
}

class ReadFromCommand implements Command {
  constructor(readonly pick: number) {}
  check = (model: Readonly<LogModel>) => model.capabilities.has('readFrom');
  async run(model: LogModel, real: RealSystem) {
    const positions = model.positions;
    const index = this.pick % (positions.length + 1);
    const from = index < positions.length ? positions[index] : undefined;
    const where = from ? `readFrom(${JSON.stringify(from.position)})` : 'readFrom(null)';
    const batches = await readFromAll(real.persistence, from?.position ?? null).catch(
      (error: unknown) => {
        if (from && from.rewrites !== model.rewrites && errorCode(error) === 'RECORDS_POSITION') {
          return null; // a position of a log since rewritten: refused, as it must be
        }
        throw new Error(`${where} rejected with ${errorCode(error)}: ${String(error)}`);
      },
    );
    if (batches === null) return;
    if (from && from.rewrites !== model.rewrites) {
      throw new Error(`${where}: a position of a log since rewritten still holds`);
    }
    const expected = model.records.slice(from?.count ?? 0);
    const problem = mismatch(
      batches.flatMap((batch) => batch.records),
      expected,
    );
    if (problem) throw new Error(`${where} differs from the model: ${problem}`);
    if (!model.settled) return; // counts are uncertain while the store may refuse a record
    let count = from?.count ?? 0;
    for (const batch of batches) {
      count += batch.records.length;
      if (batch.end === null) break;
      if (!positions.some((known) => isDeepStrictEqual(known.position, batch.end))) {
        positions.push({ position: batch.end as RecordsPosition, count, rewrites: model.rewrites });
      }
    }
    // Bounded: the newest 8 of this log, beside the stale ones `rewritten()` keeps.
    const current = positions.filter((known) => known.rewrites === model.rewrites);
    if (current.length > 8) positions.splice(positions.indexOf(current[0] as never), 1);
  }
  toString() {
    return `readFrom(position #${this.pick} read earlier, or null)`;
  }
}

class SetTitleCommand implements Command {
  constructor(readonly title: string) {}
  check = (model: Readonly<LogModel>) => model.capabilities.has('title');
  async run(model: LogModel, real: RealSystem) {
    const result = real.persistence.setTitle?.(this.title) as unknown;
    if (result !== undefined) throw new Error('setTitle returned a value; it returns nothing');
    await checkRead(model, real, this.toString());
  }
  toString() {
    return `setTitle(${JSON.stringify(this.title)})`;
  }
}

/** The capability commands (each checks at run time that the backend offers it). */
export function capabilityCommands(): Array<fc.Arbitrary<Command>> {
  return [
    fc
      .tuple(fc.constantFrom<DataKind>('string', 'slow', 'slow', 'reject'), fc.nat(5))
      .map(([kind, delay]) => new WriteSnapshotCommand(kind, delay)),
    fc.constant(new ReadSnapshotCommand()),
    fc.nat(20).map((pick) => new ReadFromCommand(pick)),
    fc.nat(20).map((pick) => new ReadFromCommand(pick)),
    fc.string({ maxLength: 30, unit: 'grapheme' }).map((title) => new SetTitleCommand(title)),
  ];
}
