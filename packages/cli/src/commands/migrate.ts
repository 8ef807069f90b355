import { stat, unlink } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { AgentRecords, type Migration, type ReplayResult } from '@agent-records/core';
import { FileSystemAgentRecordPersistence, snapshotPathOf } from '@agent-records/fs-persistence';
import {
  type AgentRecordEnvelope,
  type AgentRecordPersistence,
  AgentRecordsError,
  compareProtocolVersions,
} from '@agent-records/types';
import { CliError, EXIT, fileError } from '../errors.js';
import { count } from '../format.js';
import { type CliIo, runGuarded, terminalLines } from '../io.js';
import { assertLogFile } from '../log-file.js';
import { holdWriterLocks, refuseLiveWriter } from '../writer-lock.js';
import { backupStamp, keepBackup } from './repair.js';

export interface MigrateResult extends ReplayResult {
  file: string;
  toVersion: string;
  dryRun: boolean;
  /** Records the migrated log holds (what was, or would be, written). */
  rewrittenRecords: number | null;
  /** The original log, kept before the rewrite (absent for a dry run or nothing to migrate). */
  backupFile?: string;
  /** The snapshot beside the log was deleted (before the log was replaced). */
  removedSnapshot?: boolean;
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
 * chain) and rewrites it atomically, keeping the original as `<log>.backup-<time>` as `repair`
 * does (a migration is the user's code: its result may be wrong). With `dryRun`, nothing is
 * written.
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
  await assertLogFile(file);
  if (dryRun) {
    await refuseLiveWriter(file, 'migrating');
    return migrateUnderLock(file, migrations, toVersion, true);
  }
  // The writer lock, held from before the backup and the replay read the log until the
  // migrated log is durable: an agent that resumed the log is refused (RecordsLockedError)
  // instead of appending records the rewrite never saw (they would vanish with it).
  const lock = await holdWriterLocks(file, 'migrating');
  try {
    return await migrateUnderLock(file, migrations, toVersion, false);
  } finally {
    await lock.release();
  }
}

/** The migration itself; the caller holds the writer lock unless it is a dry run. */
async function migrateUnderLock(
  file: string,
  migrations: Migration[],
  toVersion: string,
  dryRun: boolean,
): Promise<MigrateResult> {
  // Kept before the replay, since the rewrite happens inside it; removed again when nothing
  // was rewritten (the log is then unchanged).
  let backupFile: string | undefined;
  if (!dryRun) {
    backupFile = `${file}.backup-${backupStamp()}`;
    try {
      await keepBackup(file, backupFile);
    } catch (error) {
      throw fileError(backupFile, error);
    }
  }
  // The fs backend's rewrite deletes the snapshot, durably, before it renames the migrated log
  // in (its rule, kept there): a crash between the two never leaves the new log beside a
  // snapshot of the old one. Looked at here only to say so.
  const snapshotFile = snapshotPathOf(file);
  const hadSnapshot = !dryRun && (await exists(snapshotFile));
  // Its own lock off: this command holds the writer lock itself (a second instance in this
  // process would be refused by it).
  const real = new FileSystemAgentRecordPersistence<AgentRecordEnvelope>(file, {
    onError: () => {},
    lock: false,
  });
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
    if (failure && !dryRun) {
      throw new CliError(`${file}: ${failure}. The original is kept as ${backupFile}.`, EXIT.io);
    }
    if (backupFile && rewrittenRecords === null) {
      await unlink(backupFile).catch(() => {});
      backupFile = undefined;
    }
    const removedSnapshot =
      hadSnapshot && rewrittenRecords !== null && !(await exists(snapshotFile));
    return { ...result, file, toVersion, dryRun, rewrittenRecords, backupFile, removedSnapshot };
  } catch (error) {
    await real.close().catch(() => {});
    // Nothing was rewritten when the replay itself failed: the backup is a copy of the log.
    if (backupFile && rewrittenRecords === null) await unlink(backupFile).catch(() => {});
    if (error instanceof CliError) throw error;
    // A rewrite that failed midway (its snapshot could not be deleted, the disk is full) leaves
    // the backup: say where it is.
    const kept =
      backupFile && rewrittenRecords !== null ? ` The original is kept as ${backupFile}.` : '';
    if (error instanceof AgentRecordsError) {
      throw new CliError(
        `${file}: ${error.message}${kept}`,
        error.code === 'RECORDS_CORRUPT' ? EXIT.problems : EXIT.migration,
      );
    }
    throw new CliError(
      `${file}: migration failed: ${(error as Error).message}${kept}`,
      EXIT.migration,
    );
  }
}

const exists = (target: string) =>
  stat(target).then(
    () => true,
    () => false,
  );

/** `agent-records migrate`: says what was migrated and where the original was kept. */
export async function runMigrate(
  args: { log: string; migrations: string; to?: string; dryRun?: boolean },
  io: CliIo,
): Promise<number> {
  return runGuarded(io, async () => {
    const { log } = args;
    const migrations = await loadMigrations(args.migrations);
    const result = await migrateLog(log, migrations, { to: args.to, dryRun: args.dryRun });
    const from = result.fromVersion ?? '(empty log)';
    if (!result.migrated) {
      const warning = result.warning ? `; ${result.warning}` : '';
      io.out.write(
        `${terminalLines(`${log}: nothing to migrate (at ${from}, target ${result.toVersion})${warning}`)}\n`,
      );
      return EXIT.ok;
    }
    const replayed = count(result.records, 'record');
    const written =
      result.rewrittenRecords === null ? '? records' : count(result.rewrittenRecords, 'record');
    const lines = [
      result.dryRun
        ? `${log}: would migrate ${from} -> ${result.toVersion}: ${replayed} replayed, ${written} would be written`
        : `${log}: migrated ${from} -> ${result.toVersion}: ${replayed} replayed, ${written} written`,
    ];
    if (result.backupFile) lines.push(`original kept as ${result.backupFile}`);
    if (result.removedSnapshot) {
      lines.push('deleted its snapshot (it described the old log; the next one is taken anew)');
    }
    if (result.warning) lines.push(`warning: ${result.warning}`);
    io.out.write(`${terminalLines(lines.join('\n'))}\n`);
    return EXIT.ok;
  });
}
