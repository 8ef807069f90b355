import { Command, CommanderError, Option } from 'commander';
import { gcBlobs, parseDuration } from './commands/blobs.js';
import { catLog, parseSince, tailLog } from './commands/cat.js';
import { type InspectReport, inspectLog } from './commands/inspect.js';
import { loadMigrations, migrateLog } from './commands/migrate.js';
import { repairLog } from './commands/repair.js';
import { listSessions } from './commands/sessions.js';
import { unlockCommand } from './commands/unlock.js';
import { validateLog } from './commands/validate.js';
import { CliError, EXIT } from './errors.js';
import { formatTime } from './summary.js';

declare const PACKAGE_VERSION: string;

const EXIT_CODES_HELP = `
Exit codes:
  0  success
  1  the log has problems (corrupt lines, a torn tail, not starting with metadata)
  2  wrong usage
  3  the file could not be read or written
  4  a live writer holds the log's lock
  5  the migration failed`;

const collect = (value: string, previous: string[] = []) => [...previous, value];
const json = (value: unknown) => JSON.stringify(value, null, 2);
const mb = (bytes: number) =>
  bytes < 1024
    ? `${bytes} B`
    : bytes < 2 ** 20
      ? `${(bytes / 1024).toFixed(1)} KB`
      : `${(bytes / 2 ** 20).toFixed(1)} MB`;

function printInspect(report: InspectReport): void {
  const lines = [
    `file:       ${report.file} (${mb(report.size)})`,
    `protocol:   ${report.protocolVersion ?? '(no metadata record)'}${report.segments > 1 ? ` (${report.segments} segments)` : ''}`,
    `created:    ${formatTime(report.createdAt)}`,
    `time span:  ${formatTime(report.firstTime)} .. ${formatTime(report.lastTime)}`,
    `records:    ${report.records}`,
  ];
  const types = Object.entries(report.byType).sort((a, b) => b[1].bytes - a[1].bytes);
  if (types.length > 0) {
    lines.push('by type:');
    const width = Math.max(...types.map(([type]) => type.length));
    for (const [type, { count, bytes }] of types) {
      lines.push(
        `  ${type.padEnd(width)}  ${String(count).padStart(8)} records  ${mb(bytes).padStart(12)}`,
      );
    }
  }
  if (report.tornTail) {
    lines.push(
      `torn tail:  ${report.tornTail.bytes} bytes at offset ${report.tornTail.offset} (an interrupted write; \`agent-records repair\` moves it aside)`,
    );
  }
  if (report.problemCount > 0) {
    lines.push(`problems:   ${report.problemCount}`);
    for (const p of report.problems.slice(0, 20))
      lines.push(`  ${report.file}:${p.line}:${p.offset}: ${p.problem}`);
    if (report.problemCount > 20)
      lines.push(`  ... and ${report.problemCount - 20} more (agent-records validate lists them)`);
  }
  if (report.blobs) {
    const b = report.blobs;
    lines.push(
      `blobs:      ${b.referenced} referenced, ${b.present} present (${mb(b.bytes)}) in ${b.dir}` +
        (b.missing > 0 ? `, ${b.missing} missing` : ''),
    );
  }
  lines.push(
    `lock:       ${report.lock ? `${report.lock.alive ? 'held' : 'stale'} (pid ${report.lock.pid} on ${report.lock.host})` : 'none'}`,
  );
  console.log(lines.join('\n'));
}

export function buildProgram(): Command {
  const program = new Command('agent-records')
    .description('Inspect, validate, repair and migrate agent-records JSON Lines logs.')
    .version(typeof PACKAGE_VERSION === 'string' ? PACKAGE_VERSION : '0.0.0')
    .addHelpText('after', EXIT_CODES_HELP)
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();

  program
    .command('inspect')
    .description('protocol version, time span, records and bytes by type, problems, lock holder')
    .argument('<log>', 'a JSON Lines log')
    .option('--json', 'print the report as JSON')
    .option('--blobs <dir>', 'the blob folder (default: blobs/ beside the log)')
    .action(async (log: string, options: { json?: boolean; blobs?: string }) => {
      const report = await inspectLog(log, { blobDir: options.blobs });
      if (options.json) console.log(json(report));
      else printInspect(report);
      if (report.problemCount > 0) process.exitCode = EXIT.problems;
    });

  program
    .command('cat')
    .description('print records: time, type and a summary, or the raw JSON lines with --json')
    .argument('<log>', 'a JSON Lines log')
    .option('--type <type>', 'only records of this type (repeatable)', collect)
    .option('--since <time>', 'only records at or after: ISO time, epoch ms, or 15m/2h/3d ago')
    .option('--json', 'print each record as its original JSON line (pipe into jq)')
    .action(async (log: string, options: { type?: string[]; since?: string; json?: boolean }) => {
      const since = options.since === undefined ? undefined : parseSince(options.since);
      const problems = await catLog(log, { types: options.type, since, json: options.json });
      if (problems > 0) process.exitCode = EXIT.problems;
    });

  program
    .command('tail')
    .description(
      'print the last records; with -f, keep printing records as a live agent writes them',
    )
    .argument('<log>', 'a JSON Lines log')
    .option('-f, --follow', 'follow the log as it grows (Ctrl-C to stop)')
    .addOption(
      new Option('-n, --lines <count>', 'how many records to print first')
        .default(10)
        .argParser(Number),
    )
    .option('--type <type>', 'only records of this type (repeatable)', collect)
    .option('--json', 'print each record as its original JSON line')
    .action(
      async (
        log: string,
        options: { follow?: boolean; lines: number; type?: string[]; json?: boolean },
      ) => {
        if (!Number.isInteger(options.lines) || options.lines < 0) {
          throw new CliError('--lines must be a whole number', EXIT.usage);
        }
        await tailLog(log, {
          lines: options.lines,
          follow: options.follow ?? false,
          types: options.type,
          json: options.json,
        });
      },
    );

  program
    .command('validate')
    .description(
      'exit 0 when every line is a record and the first is metadata; else list each problem',
    )
    .argument('<log>', 'a JSON Lines log')
    .action(async (log: string) => {
      const result = await validateLog(log);
      for (const p of result.problems) console.log(`${log}:${p.line}:${p.offset}: ${p.problem}`);
      if (result.problemCount > result.problems.length) {
        console.log(`... and ${result.problemCount - result.problems.length} more problems`);
      }
      if (result.problemCount > 0) {
        console.error(
          `${log}: ${result.problemCount} problems. Run \`agent-records repair ${log}\` to move bad lines aside.`,
        );
        process.exitCode = EXIT.problems;
      } else {
        console.error(`${log}: valid (${result.records} records)`);
      }
    });

  program
    .command('repair')
    .description(
      'move unreadable lines and a torn tail to a quarantine file, keeping a backup; never deletes a byte',
    )
    .argument('<log>', 'a JSON Lines log')
    .option('--dry-run', 'print what would be done, change nothing')
    .action(async (log: string, options: { dryRun?: boolean }) => {
      const result = await repairLog(log, { dryRun: options.dryRun });
      const verb = result.dryRun ? 'would move' : 'moved';
      for (const p of result.moved)
        console.log(`${verb} ${log}:${p.line}:${p.offset} (${p.problem})`);
      if (result.addedFinalNewline)
        console.log(
          `${result.dryRun ? 'would add' : 'added'} the newline missing after the last record`,
        );
      if (result.moved.length === 0 && !result.addedFinalNewline) {
        console.log(`${log}: nothing to repair (${result.kept} records)`);
        return;
      }
      if (result.dryRun) {
        console.log(`dry run: ${result.kept} lines would stay; nothing was changed`);
        process.exitCode = EXIT.problems;
        return;
      }
      console.log(`kept ${result.kept} lines in ${log}`);
      console.log(`original kept as ${result.backupFile}`);
      if (result.quarantineFile) console.log(`moved lines are in ${result.quarantineFile}`);
    });

  program
    .command('migrate')
    .description('run a migration chain from your module over the log and rewrite it atomically')
    .argument('<log>', 'a JSON Lines log')
    .requiredOption(
      '--migrations <module>',
      'a module exporting `migrations`: [{ sourceVersion, targetVersion, migrateRecord }]',
    )
    .option('--to <version>', 'target protocol version (default: the newest in the chain)')
    .option('--dry-run', 'print what would change, write nothing')
    .action(async (log: string, options: { migrations: string; to?: string; dryRun?: boolean }) => {
      const migrations = await loadMigrations(options.migrations);
      const result = await migrateLog(log, migrations, { to: options.to, dryRun: options.dryRun });
      const from = result.fromVersion ?? '(empty log)';
      if (!result.migrated) {
        console.log(
          `${log}: nothing to migrate (at ${from}, target ${result.toVersion})${result.warning ? `; ${result.warning}` : ''}`,
        );
        return;
      }
      console.log(
        `${log}: ${result.dryRun ? 'would migrate' : 'migrated'} ${from} -> ${result.toVersion}: ` +
          `${result.records} records replayed, ${result.rewrittenRecords ?? '?'} records ${result.dryRun ? 'would be' : ''} written`.replace(
            '  ',
            ' ',
          ),
      );
      if (result.warning) console.log(`warning: ${result.warning}`);
    });

  const blobs = program
    .command('blobs')
    .description('blob folder maintenance (large payloads kept out of line)');
  blobs
    .command('gc')
    .description('remove blobs that no log of the store references any more')
    .argument('<path>', 'a log, or the store folder holding the logs')
    .option('--blobs <dir>', 'the blob folder (default: blobs/ in the store folder)')
    .option(
      '--min-age <duration>',
      'keep unreferenced blobs younger than this, for live writers: seconds, or 30s, 10m, 1h30m',
      '1h',
    )
    .option('--dry-run', 'print what would be removed, remove nothing')
    .action(
      async (target: string, options: { blobs?: string; minAge: string; dryRun?: boolean }) => {
        const report = await gcBlobs(target, {
          blobDir: options.blobs,
          minAgeMs: parseDuration(options.minAge),
          dryRun: options.dryRun,
        });
        const verb = report.dryRun ? 'would remove' : 'removed';
        for (const blob of report.removed) console.log(`${verb} ${blob.hash} (${mb(blob.bytes)})`);
        console.log(
          `${report.blobDir}: ${report.referenced} blobs referenced by ${report.logs} logs; ${verb} ` +
            `${report.removed.length} (${mb(report.removedBytes)}); kept ${report.kept} (${mb(report.keptBytes)})` +
            (report.tooYoung > 0
              ? `, ${report.tooYoung} unreferenced but younger than ${options.minAge}`
              : ''),
        );
      },
    );

  program
    .command('sessions')
    .description('list the sessions of a FileSystemAgentRecordStore root folder')
    .argument('<root>', 'the store root folder')
    .option('--json', 'print as JSON')
    .action(async (root: string, options: { json?: boolean }) => {
      const sessions = await listSessions(root);
      if (options.json) {
        console.log(json(sessions));
        return;
      }
      if (sessions.length === 0) {
        console.log(`${root}: no sessions`);
        return;
      }
      const width = Math.max(2, ...sessions.map((s) => s.id.length));
      console.log(
        `${'id'.padEnd(width)}  ${'records'.padStart(8)}  ${'size'.padStart(10)}  modified                  writer`,
      );
      for (const s of sessions) {
        console.log(
          `${s.id.padEnd(width)}  ${String(s.records ?? '?').padStart(8)}  ${mb(s.size).padStart(10)}  ${formatTime(s.modifiedAt)}  ${s.lockedBy ? `pid ${s.lockedBy}` : '-'}`,
        );
      }
    });

  program
    .command('unlock')
    .description(
      "show who holds a log's lock; remove it if that writer is gone (another host's: --force)",
    )
    .argument('<log>', 'a JSON Lines log')
    .option('--force', "also remove another host's lock, or a lock file that is not a lock")
    .action(async (log: string, options: { force?: boolean }) => {
      process.exitCode = await unlockCommand(log, options);
    });

  return program;
}

/** Runs the command line; returns the exit code. */
export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv, { from: 'user' });
    return typeof process.exitCode === 'number' ? process.exitCode : EXIT.ok;
  } catch (error) {
    if (error instanceof CommanderError) {
      if (
        error.exitCode === 0 ||
        error.code === 'commander.helpDisplayed' ||
        error.code === 'commander.version'
      )
        return EXIT.ok;
      return EXIT.usage;
    }
    if (error instanceof CliError) {
      console.error(`agent-records: ${error.message}`);
      return error.exitCode;
    }
    console.error(`agent-records: ${(error as Error)?.stack ?? String(error)}`);
    return EXIT.io;
  }
}
