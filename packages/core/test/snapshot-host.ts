// Test helpers for the snapshot suites (not exported by the package).
import type { InMemoryAgentRecordPersistence } from '@agent-records/memory-persistence';
import type {
  AgentRecordEnvelope,
  AgentRecordPersistence,
  RecordsErrorInfo,
  RecordsPosition,
  SnapshotToWrite,
  StoredSnapshot,
} from '@agent-records/types';
import { AgentRecords, type AgentRecordsOptions } from '../src/agent-records.js';
import type { SnapshotOptions } from '../src/snapshots.js';

export type Rec = AgentRecordEnvelope & Record<string, unknown>;

/** A host whose state is the list of values it was told about, and counts what it restores. */
export class Host {
  state: { items: unknown[] } = { items: [] };
  restoredRecords = 0;
  restoredStates = 0;
  takes = 0;
  readonly warnings: Error[] = [];
  readonly reports: Array<{ error: Error; info: RecordsErrorInfo }> = [];
  readonly records: AgentRecords<Rec>;

  constructor(
    persistence: AgentRecordsOptions<Rec>['persistence'],
    options: Omit<Partial<AgentRecordsOptions<Rec>>, 'snapshots'> & {
      snapshots?: Partial<SnapshotOptions> | false;
    } = {},
  ) {
    const { snapshots, ...rest } = options;
    this.records = new AgentRecords<Rec>({
      persistence,
      protocolVersion: '1.1',
      restore: (record) => {
        this.restoredRecords++;
        this.#apply(record);
      },
      onError: (error, info) => {
        this.reports.push({ error, info });
        if (info.kind === 'warning') this.warnings.push(error);
      },
      ...(snapshots === false
        ? {}
        : {
            snapshots: {
              take: () => {
                this.takes++;
                return structuredClone(this.state);
              },
              restore: (state) => {
                this.restoredStates++;
                this.state = structuredClone(state) as Host['state'];
              },
              ...snapshots,
            },
          }),
      ...rest,
    });
  }

  /** Live: log, then mutate. */
  add(value: unknown): void {
    const record = { type: 'item.add', value } as Rec;
    this.records.logRecord(record);
    this.#apply(record);
  }

  #apply(record: Rec): void {
    if (record.type === 'item.add') this.state.items.push(record.value);
  }
}

/** Wraps a memory persistence and counts and keeps what passes through the snapshot calls. */
export class SnapshotSpy implements AgentRecordPersistence<Rec> {
  readonly written: SnapshotToWrite[] = [];
  /** When set, readSnapshot answers with this (a stale snapshot a crash could leave). */
  stale: StoredSnapshot | null = null;
  constructor(readonly inner: InMemoryAgentRecordPersistence<Rec>) {}
  read() {
    return this.inner.read();
  }
  append(record: Rec) {
    this.inner.append(record);
  }
  rewrite(records: readonly Rec[]) {
    this.inner.rewrite(records);
  }
  flush() {
    return this.inner.flush();
  }
  close() {
    return this.inner.close();
  }
  setErrorHandler(handler: Parameters<NonNullable<AgentRecordPersistence['setErrorHandler']>>[0]) {
    this.inner.setErrorHandler(handler);
  }
  readFrom(position: RecordsPosition | null) {
    return this.inner.readFrom(position);
  }
  writeSnapshot(snapshot: SnapshotToWrite) {
    this.written.push(snapshot);
    this.inner.writeSnapshot(snapshot);
  }
  async readSnapshot() {
    return this.stale ?? this.inner.readSnapshot();
  }
}

/** Polls until `check` holds, up to 5 s (background work, never a fixed sleep). */
export async function eventually(
  check: () => boolean | Promise<boolean>,
  what: string,
): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
