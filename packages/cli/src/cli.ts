import { Command, CommanderError, Option } from 'commander';
import { runBlobsGc } from './commands/blobs.js';
import { runCat } from './commands/cat.js';
import { runCompletion } from './commands/completion.js';
import { runInspect } from './commands/inspect.js';
import { runMigrate } from './commands/migrate.js';
import { runRepair } from './commands/repair.js';
import { runSessions } from './commands/sessions.js';
import { runStats } from './commands/stats.js';
import { runTail } from './commands/tail.js';
import { runUnlock } from './commands/unlock.js';
import { runValidate } from './commands/validate.js';
import { EXIT } from './errors.js';
import { type CliIo, processIo } from './io.js';

declare const PACKAGE_VERSION: string;

const EXIT_CODES_HELP = `
A log of - reads standard input (cat, validate, stats, inspect).

Exit codes:
  0  success (warnings, such as a snapshot that does not match its log, go to stderr)
  1  the log has problems (corrupt lines, a torn tail, not starting with metadata,
     referenced blobs missing)
  2  wrong usage
  3  the file could not be read or written, or is not a regular file
  4  a live writer holds the log's lock
  5  the migration failed`;

const collect = (value: string, previous: string[] = []) => [...previous, value];

/**
 * The command line's definitions only: each action hands its parsed arguments to the command's
 * `run*` function, which prints through `io` and returns the exit code, kept in `exit.code`.
 */
export function buildProgram(
  io: CliIo = processIo(),
  exit: { code: number } = { code: EXIT.ok },
): Command {
  const set = (code: number) => {
    exit.code = code;
  };
  const program = new Command('agent-records')
    .description('Inspect, validate, repair and migrate agent-records JSON Lines logs.')
    .version(typeof PACKAGE_VERSION === 'string' ? PACKAGE_VERSION : '0.0.0')
    .addHelpText('after', EXIT_CODES_HELP)
    .showHelpAfterError('(run with --help for usage)')
    .configureOutput({
      writeOut: (text) => io.out.write(text),
      writeErr: (text) => io.err.write(text),
    })
    .exitOverride();

  program
    .command('inspect')
    .description(
      'health: protocol version, time span, records by type, problems, lock, blobs, summary, snapshot',
    )
    .argument('<log>', 'a JSON Lines log, or - for standard input')
    .option('--json', 'print the report as JSON')
    .option('--blobs <dir>', 'the blob folder (default: blobs/ beside the log)')
    .action(async (log: string, options: { json?: boolean; blobs?: string }) =>
      set(await runInspect({ log, ...options }, io)),
    );

  program
    .command('stats')
    .description('usage: records and bytes per type, time span, largest records, rate')
    .argument('<log>', 'a JSON Lines log, or - for standard input')
    .option('--json', 'print the figures as JSON')
    .action(async (log: string, options: { json?: boolean }) =>
      set(await runStats({ log, ...options }, io)),
    );

  program
    .command('cat')
    .description(
      'print records: time, type and a summary, or their JSON lines with --json. Text from the ' +
        'log never drives the terminal: control and bidi characters show as U+FFFD, or ' +
        '\\u-escaped with --json (the same JSON value for jq); only --raw prints the bytes as stored',
    )
    .argument('<log>', 'a JSON Lines log, or - for standard input')
    .option('--type <type>', 'only records of this type (repeatable)', collect)
    .option('--since <time>', 'only records at or after: ISO time, epoch ms, or 15m/2h/3d ago')
    .option('--until <time>', 'only records at or before: ISO time, epoch ms, or 15m/2h/3d ago')
    .option('--limit <count>', 'print at most this many records')
    .option(
      '--json',
      'print each record as its JSON line (pipe into jq); control and bidi characters \\u-escaped',
    )
    .option(
      '--raw',
      'print each record line byte for byte as the log holds it, escape sequences included: ' +
        'for pipes, not for a terminal',
    )
    .action(async (log: string, options: Parameters<typeof runCat>[0]) =>
      set(await runCat({ ...options, log }, io)),
    );

  program
    .command('tail')
    .description(
      'print the last records; with -f, keep printing records as a live agent writes them',
    )
    .argument('<log>', 'a JSON Lines log')
    .option('-f, --follow', 'follow the log as it grows (Ctrl-C to stop)')
    .addOption(new Option('-n, --lines <count>', 'how many records to print first').default('10'))
    .option('--type <type>', 'only records of this type (repeatable)', collect)
    .option('--json', 'print each record as its JSON line, control and bidi characters \\u-escaped')
    .option(
      '--raw',
      'print each record line byte for byte as the log holds it: for pipes, not for a terminal',
    )
    .action(async (log: string, options: Omit<Parameters<typeof runTail>[0], 'log'>) =>
      set(await runTail({ ...options, log }, io)),
    );

  program
    .command('validate')
    .description(
      'exit 0 when every line is a record and the first is metadata; else list each problem. ' +
        'Also checks the snapshot against the log: one that does not match is a warning (stderr), harmless and safe to delete. ' +
        "An unfinished last line while a live writer holds the log's lock is its write in progress, not a problem",
    )
    .argument('<log>', 'a JSON Lines log, or - for standard input')
    .action(async (log: string) => set(await runValidate({ log }, io)));

  program
    .command('repair')
    .description(
      'move unreadable lines and a torn tail to a quarantine file, keeping a backup; never deletes a byte. ' +
        "Holds the log's writer lock while it works (an agent writing meanwhile is refused); exit 4 if a live writer holds it",
    )
    .argument('<log>', 'a JSON Lines log')
    .option('--dry-run', 'print what would be done, change nothing')
    .action(async (log: string, options: { dryRun?: boolean }) =>
      set(await runRepair({ log, ...options }, io)),
    );

  program
    .command('migrate')
    .description(
      'run a migration chain from your module over the log and rewrite it atomically, keeping a backup. ' +
        "Holds the log's writer lock while it works; exit 4 if a live writer holds it",
    )
    .argument('<log>', 'a JSON Lines log')
    .requiredOption(
      '--migrations <module>',
      'a module exporting `migrations`: [{ sourceVersion, targetVersion, migrateRecord }]',
    )
    .option('--to <version>', 'target protocol version (default: the newest in the chain)')
    .option('--dry-run', 'print what would change, write nothing')
    .action(async (log: string, options: { migrations: string; to?: string; dryRun?: boolean }) =>
      set(await runMigrate({ log, ...options }, io)),
    );

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
    .action(async (target: string, options: { blobs?: string; minAge: string; dryRun?: boolean }) =>
      set(await runBlobsGc({ target, ...options }, io)),
    );

  program
    .command('sessions')
    .description(
      'list the sessions of a FileSystemAgentRecordStore folder, newest activity first: updated, records, size, lock, title',
    )
    .argument('<root>', 'the store root folder')
    .option('--limit <count>', 'show at most this many sessions (a page)')
    .option('--after <id>', 'start after this session: the last id of the previous page')
    .option('--json', 'print the summaries as JSON (with each lock file and its state)')
    .action(async (root: string, options: { json?: boolean; limit?: string; after?: string }) =>
      set(await runSessions({ root, ...options }, io)),
    );

  program
    .command('unlock')
    .description(
      "show who holds a log's lock; remove it if that writer is gone (another host's: --force)",
    )
    .argument('<log>', 'a JSON Lines log')
    .option('--force', "also remove another host's lock, or a lock file that is not a lock")
    .action(async (log: string, options: { force?: boolean }) =>
      set(await runUnlock({ log, ...options }, io)),
    );

  program
    .command('completion')
    .description('print a shell completion script: eval "$(agent-records completion bash)"')
    .argument('<shell>', 'bash, zsh or fish')
    .action(async (shell: string) => set(await runCompletion({ shell }, io, program)));

  return program;
}

/** Runs the command line; returns the exit code. */
export async function main(argv: string[], io: CliIo = processIo()): Promise<number> {
  const exit = { code: EXIT.ok as number };
  const program = buildProgram(io, exit);
  try {
    await program.parseAsync(argv, { from: 'user' });
    return exit.code;
  } catch (error) {
    if (error instanceof CommanderError) {
      const done = error.code === 'commander.helpDisplayed' || error.code === 'commander.version';
      return error.exitCode === 0 || done ? EXIT.ok : EXIT.usage;
    }
    io.err.write(`agent-records: ${(error as Error)?.stack ?? String(error)}\n`);
    return EXIT.io;
  }
}
