// The store model: random writes, rewrites, titles and deletes over a few sessions, each through
// a persistence opened and closed on the store, then list() (whole and paged) checked against a
// plain model of the sessions: which exist, their records, bytes, titles and createdAt, listed
// newest write first (then by id) and never as older than a session written before them.
import type { AgentRecordEnvelope, SessionSummary } from '@agent-records/types';
import fc from 'fast-check';
import { it } from 'vitest';
import type { PersistenceCapability } from './capabilities.js';
import { modelSeedFromEnv } from './model.js';
import type { StoreContractOptions, StoreContractSubject } from './store-contract.js';
import {
  type AnyStore,
  allPages,
  comparable,
  jsonLinesBytes,
  metadataCreatedAt,
  openOn,
  orderProblem,
} from './store-summary.js';

interface ModelSession {
  records: unknown[];
  title: string | undefined;
  /** When it was last written, in the sequence's order of writes. */
  lastWrite: number;
}

interface StoreModel {
  sessions: Map<string, ModelSession>;
  writes: number;
  capabilities: ReadonlySet<PersistenceCapability>;
  exactBytes: boolean;
}

type Command = fc.AsyncCommand<StoreModel, AnyStore, false>;
const IDS = ['s1', 's2', 's3', 's4'];
const always = () => true;

let nextRecord = 0;
function recordsFor(count: number, metadataFirst: boolean): AgentRecordEnvelope[] {
  const records: AgentRecordEnvelope[] = [];
  for (let i = 0; i < count; i++) {
    const n = nextRecord++;
    records.push(
      i === 0 && metadataFirst
        ? ({
            type: 'metadata',
            protocol_version: '1.0',
            created_at: 1_700_000_000_000 + n,
          } as AgentRecordEnvelope)
        : ({ type: 'test.store', n, text: 'é'.repeat(n % 4) } as AgentRecordEnvelope),
    );
  }
  return records;
}

class AppendCommand implements Command {
  constructor(
    readonly id: string,
    readonly count: number,
    readonly metadataFirst: boolean,
  ) {}
  check = always;
  async run(model: StoreModel, store: AnyStore) {
    const session = model.sessions.get(this.id);
    const records = recordsFor(this.count, this.metadataFirst && !session);
    const persistence = openOn(store, this.id);
    for (const record of records) persistence.append(record);
    await persistence.close();
    if (records.length === 0) return; // nothing written: no activity
    const next = session ?? { records: [], title: undefined, lastWrite: 0 };
    next.records.push(...records);
    next.lastWrite = ++model.writes;
    model.sessions.set(this.id, next);
  }
  toString() {
    return `append ${this.count} records to ${this.id}${this.metadataFirst ? ' (metadata first if new)' : ''}`;
  }
}

class RewriteCommand implements Command {
  constructor(
    readonly id: string,
    readonly count: number,
  ) {}
  check = always;
  async run(model: StoreModel, store: AnyStore) {
    const records = recordsFor(this.count, this.count > 0);
    const persistence = openOn(store, this.id);
    persistence.rewrite(records);
    await persistence.close();
    const session = model.sessions.get(this.id);
    model.sessions.set(this.id, {
      records,
      title: session?.title,
      lastWrite: ++model.writes,
    });
  }
  toString() {
    return `rewrite ${this.id} with ${this.count} records`;
  }
}

class TitleCommand implements Command {
  constructor(
    readonly id: string,
    readonly title: string,
  ) {}
  check = (model: Readonly<StoreModel>) => model.capabilities.has('title');
  async run(model: StoreModel, store: AnyStore) {
    const persistence = openOn(store, this.id);
    persistence.setTitle?.(this.title);
    await persistence.close();
    const session = model.sessions.get(this.id);
    // A title alone is no activity on a session; on none, it makes one (0 records) from then.
    if (session) session.title = this.title;
    else this.#create(model);
  }
  #create(model: StoreModel) {
    model.sessions.set(this.id, { records: [], title: this.title, lastWrite: ++model.writes });
  }
  toString() {
    return `setTitle(${JSON.stringify(this.title)}) on ${this.id}`;
  }
}

class DeleteCommand implements Command {
  constructor(readonly id: string) {}
  check = always;
  async run(model: StoreModel, store: AnyStore) {
    const deleted = await store.delete(this.id);
    const expected = model.sessions.delete(this.id);
    if (deleted !== expected) {
      throw new Error(
        `delete(${this.id}) returned ${deleted}; the session ${expected ? 'existed' : 'did not exist'}`,
      );
    }
  }
  toString() {
    return `delete ${this.id}`;
  }
}

class ListCommand implements Command {
  constructor(readonly limit: number) {}
  check = always;
  async run(model: StoreModel, store: AnyStore) {
    await checkList(model, store, this.toString(), this.limit);
  }
  toString() {
    return `list() whole and in pages of ${this.limit}`;
  }
}

async function checkList(model: StoreModel, store: AnyStore, after: string, limit: number) {
  const fail = (why: string) => {
    throw new Error(`after ${after}: ${why}`);
  };
  const list = await store.list();
  const ids = list.map((summary) => summary.id);
  const expectedIds = [...model.sessions.keys()].sort();
  if (JSON.stringify([...ids].sort()) !== JSON.stringify(expectedIds)) {
    fail(
      `list() gave sessions ${JSON.stringify(ids)}, the model holds ${JSON.stringify(expectedIds)}`,
    );
  }
  const order = orderProblem(list);
  if (order) fail(order);
  for (const summary of list) checkSummary(model, summary, fail);
  for (const a of list) {
    for (const b of list) {
      const written = (summary: SessionSummary) => model.sessions.get(summary.id)?.lastWrite ?? 0;
      if (written(a) > written(b) && a.updatedAt < b.updatedAt) {
        fail(
          `${a.id} was written after ${b.id} but its updatedAt ${a.updatedAt} is older than ${b.updatedAt}`,
        );
      }
    }
  }
  const paged = (await allPages(store, limit)).flat();
  if (JSON.stringify(paged.map(comparable)) !== JSON.stringify(list.map(comparable))) {
    fail(`pages of ${limit} (each after the last of the previous) differ from the whole list`);
  }
}

function checkSummary(model: StoreModel, summary: SessionSummary, fail: (why: string) => never) {
  const session = model.sessions.get(summary.id) as ModelSession;
  const what = `session ${summary.id}`;
  if (summary.records !== session.records.length) {
    fail(`${what}: records ${summary.records}, the log holds ${session.records.length}`);
  }
  const bytes = jsonLinesBytes(session.records);
  if (model.exactBytes ? summary.bytes !== bytes : !(summary.bytes >= 0)) {
    fail(`${what}: bytes ${summary.bytes}, the log as JSON Lines is ${bytes}`);
  }
  if (model.capabilities.has('title') && summary.title !== session.title) {
    fail(`${what}: title ${JSON.stringify(summary.title)}, set ${JSON.stringify(session.title)}`);
  }
  const createdAt = metadataCreatedAt(session.records);
  if (
    createdAt !== undefined ? summary.createdAt !== createdAt : !Number.isFinite(summary.createdAt)
  ) {
    fail(`${what}: createdAt ${summary.createdAt}, its metadata record says ${createdAt}`);
  }
  if (!Number.isFinite(summary.updatedAt)) fail(`${what}: updatedAt ${summary.updatedAt}`);
  if (summary.lockedBy !== undefined)
    fail(`${what}: lockedBy ${summary.lockedBy}, yet it is closed`);
}

function commands(): Array<fc.Arbitrary<Command>> {
  const id = fc.constantFrom(...IDS);
  return [
    fc.tuple(id, fc.nat(4), fc.boolean()).map(([i, n, m]) => new AppendCommand(i, n, m)),
    fc.tuple(id, fc.nat(4), fc.boolean()).map(([i, n, m]) => new AppendCommand(i, n, m)),
    fc.tuple(id, fc.nat(3)).map(([i, n]) => new RewriteCommand(i, n)),
    fc.tuple(id, fc.string({ maxLength: 12 })).map(([i, t]) => new TitleCommand(i, t)),
    id.map((i) => new DeleteCommand(i)),
    fc.integer({ min: 1, max: 3 }).map((limit) => new ListCommand(limit)),
  ];
}

export function registerStoreModel(
  factory: () => StoreContractSubject | Promise<StoreContractSubject>,
  options: StoreContractOptions & { exactBytes: boolean },
  capabilities: ReadonlySet<PersistenceCapability>,
): void {
  const fromEnv = Number(process.env.AGENT_RECORDS_MODEL_RUNS || Number.NaN);
  const runs = Number.isFinite(fromEnv) ? fromEnv : (options.runs ?? 20);
  const seed = options.seed ?? modelSeedFromEnv();
  const timeout = options.timeout ?? Math.max(600_000, runs * 2_000);
  it(
    `list() matches the model over ${runs} random sequences of writes, titles and deletes`,
    async () => {
      const property = fc.asyncProperty(
        fc.commands(commands(), { maxCommands: options.maxCommands ?? 15 }),
        async (sequence) => {
          await new Promise((resolve) => setImmediate(resolve)); // let the runner breathe
          const subject = await factory();
          const model: StoreModel = {
            sessions: new Map(),
            writes: 0,
            capabilities,
            exactBytes: options.exactBytes,
          };
          try {
            await fc.asyncModelRun(() => ({ model, real: subject.store }), sequence);
            await checkList(model, subject.store, 'the sequence', 2);
          } finally {
            await subject.cleanup?.();
          }
        },
      );
      await fc.assert(property, { numRuns: runs, ...(seed === undefined ? {} : { seed }) });
    },
    timeout,
  );
}
