import {
  type AgentRecordEnvelope,
  compareProtocolVersions,
  parseProtocolVersion,
  RecordsVersionError,
} from '@agent-records/types';

/** Moves records from one protocol version to the next. Never sees metadata records. */
export interface Migration<R extends AgentRecordEnvelope = AgentRecordEnvelope> {
  sourceVersion: string;
  targetVersion: string;
  /** Returns the record as it reads at `targetVersion`. Must not mutate its argument. */
  migrateRecord(record: R): R;
}

/** The migrations from each version towards the current one, validated once. */
export class MigrationChain<R extends AgentRecordEnvelope> {
  readonly #bySource = new Map<string, Migration<R>>();
  readonly #chains = new Map<string, readonly Migration<R>[]>();
  readonly #current: string;

  constructor(currentVersion: string, migrations: readonly Migration<R>[]) {
    this.#current = canonical(currentVersion);
    for (const migration of migrations) {
      const source = canonical(migration.sourceVersion);
      const target = canonical(migration.targetVersion);
      if (compareProtocolVersions(target, source) <= 0) {
        throw new RecordsVersionError(
          `Migration ${source} -> ${target} does not move forward: targetVersion must be newer ` +
            'than sourceVersion.',
        );
      }
      if (this.#bySource.has(source)) {
        throw new RecordsVersionError(
          `Two migrations start at ${source}; keep one per sourceVersion so the chain is unambiguous.`,
        );
      }
      this.#bySource.set(source, { ...migration, sourceVersion: source, targetVersion: target });
    }
  }

  /**
   * The migrations that take a record from `version` to the current version: empty when it is
   * current or newer. Throws {@link RecordsVersionError} naming a missing link.
   */
  from(version: string): readonly Migration<R>[] {
    const start = canonical(version);
    const cached = this.#chains.get(start);
    if (cached) return cached;
    const chain: Migration<R>[] = [];
    let at = start;
    while (compareProtocolVersions(at, this.#current) < 0) {
      const next = this.#bySource.get(at);
      if (!next) {
        const path = chain
          .map((m) => m.sourceVersion)
          .concat(at)
          .join(' -> ');
        throw new RecordsVersionError(
          `No migration from protocol version ${at} (needed to bring a log at ${start} to ` +
            `${this.#current}; path so far: ${path}). Add a migration with sourceVersion ` +
            `"${at}" to the migrations option.`,
        );
      }
      if (compareProtocolVersions(next.targetVersion, this.#current) > 0) {
        throw new RecordsVersionError(
          `Migration ${next.sourceVersion} -> ${next.targetVersion} goes past the current ` +
            `protocol version ${this.#current}; end the chain at ${this.#current}.`,
        );
      }
      chain.push(next);
      at = next.targetVersion;
    }
    this.#chains.set(start, chain);
    return chain;
  }
}

/** `'01.2'` and `'1.2'` name the same version; keep one spelling for lookups and messages. */
function canonical(version: string): string {
  const { major, minor } = parseProtocolVersion(version);
  return `${major}.${minor}`;
}
