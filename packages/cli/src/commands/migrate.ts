import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { AgentRecords, type Migration, type ReplayResult } from '@agent-records/core';
import { FileSystemAgentRecordPersistence, readLockHolder } from '@agent-records/fs-persistence';
import {
  type AgentRecordEnvelope,
  type AgentRecordPersistence,
  AgentRecordsError,
  compareProtocolVersions,
} from '@agent-records/types';
import { CliError, EXIT } from '../errors.js';

export interface MigrateResult extends ReplayResult {
  file: string;
  toVersion: string;
  dryRun: boolean;
  /** Records the migrated log holds (what was, or would be, written). */
  rewrittenRecords: number | null;
}

/** Loads `migrations` (or the default export) from a user's module: an array of migrations. */
export async function loadMigrations(modulePath: string): Promise<Migration[]> {
  let loaded: Record<string, unknown>;
  try {
    loaded = await import(pathToFileURL(path.resolve(modulePath)).href);
  } catch (error) {
    throw new CliError(
      `${modulePath}: cannot load the migrations module (${(error as Error).message}). Give a path ` +
        'to an ES module or CommonJS file that exports `migrations`.',
      EXIT.migration,
    );
  }
  const migrations = loaded.migrations ?? loaded.default;
  const list = (migrations as { migrations?: unknown })?.migrations ?? migrations;
  if (!Array.isArray(list) || list.length === 0) {
    throw new CliError(
      `${modulePath}: exports no migrations. Export \`migrations\`: an array of ` +
        '{ sourceVersion, targetVersion, migrateRecord(record) }.',
      EXIT.migration,
    );
  }
  return list as Migration[];
}

/**
 * Replays a log through the migration chain to `to` (default: the newest target version in the
 * chain) and rewrites it atomically. With `dryRun`, nothing is written.
 */
export async function migrateLog(
  file: string,
  migrations: Migration[],
  options: { to?: string; dryRun?: boolean } = {},
): Promise<MigrateResult> {
  const dryRun = options.dryRun ?? false;
  const toVersion =
    options.to ??
    migrations
      .map((m) => m.targetVersion)
      .sort(compareProtocolVersions)
      .at(-1) ??
    '0.0';
  const holder = await readLockHolder(`${file}.lock`).catch(() => null);
  if (holder?.alive) {
    throw new CliError(
      `${file}: locked by a live writer (pid ${holder.pid}). Stop that agent before migrating its log.`,
      EXIT.locked,
    );
  }
  const real = new FileSystemAgentRecordPersistence(file, { onError: () => {} });
  let rewrittenRecords: number | null = null;
  // A dry run reads the real log and captures the rewrite instead of performing it.
  const persistence: AgentRecordPersistence<AgentRecordEnvelope> = dryRun
    ? {
        read: () => real.read(),
        append: () => {},
        rewrite: (records) => {
          rewrittenRecords = records.length;
        },
        flush: async () => {},
        close: async () => {},
      }
    : {
        read: () => real.read(),
        readBatches: () => real.readBatches(),
        append: (record) => real.append(record),
        rewrite: (records) => {
          rewrittenRecords = records.length;
          real.rewrite(records);
        },
        flush: () => real.flush(),
        close: () => real.close(),
      };
  let failure: string | undefined;
  const records = new AgentRecords<AgentRecordEnvelope>({
    persistence,
    protocolVersion: toVersion,
    migrations,
    onError: (error, info) => {
      if (info.kind !== 'warning') failure = error.message;
    },
  });
  try {
    const result = await records.replay();
    await records.close();
    if (failure && !dryRun) throw new CliError(`${file}: ${failure}`, EXIT.io);
    return { ...result, file, toVersion, dryRun, rewrittenRecords };
  } catch (error) {
    await real.close().catch(() => {});
    if (error instanceof CliError) throw error;
    if (error instanceof AgentRecordsError) {
      throw new CliError(
        `${file}: ${error.message}`,
        error.code === 'RECORDS_CORRUPT' ? EXIT.problems : EXIT.migration,
      );
    }
    throw new CliError(`${file}: migration failed: ${(error as Error).message}`, EXIT.migration);
  }
}
