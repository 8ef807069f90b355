// The baselines each comparison counts, named once: the targets, the findings and the README's
// table all read these lists (a reader added to the replay case is then compared everywhere).

/** Durable writes that keep the event loop free, as our writer must. */
export const NON_BLOCKING_DURABLE = ['fdatasync-async', 'odsync-async'];

/** Every durable baseline with our guarantee (SQLite NORMAL is not durable: shown, not compared). */
export const DURABLE_SAME_GUARANTEE = [
  'fdatasync-async',
  'odsync-async',
  'naive',
  'open-write-fsync-close',
  'fdatasync-sync',
  'odsync-sync',
  'reference',
  'sqlite-full',
];

/**
 * Probes of the durable case, compared to nothing: O_DSYNC writes into a file grown beforehand and
 * overwritten in place (not JSON Lines while written). They measure what growing the log costs
 * each durable append, the cost SQLite's reused WAL does not pay (bench/README.md).
 */
export const DURABLE_PROBES = ['probe-odsync-async-in-place', 'probe-odsync-sync-in-place'];

/** The file readers of the replay case (cases/replay.mjs checks it names each of them). */
export const FILE_READERS = [
  'fast-sync',
  'fast-sync-pieces',
  'fast-async',
  'fast-async-pieces',
  'fast-async-4m',
  'fast-async-ahead',
  'fast-async-ahead-256k',
  'readfile-split',
  'reference',
];

/**
 * Readers with our replay's guarantees and work: the loop stays free (reads through libuv, the
 * next chunk read while this one is parsed) and every record goes to a restore function.
 */
export const READERS_LIKE_OURS = ['fast-async-ahead', 'fast-async-ahead-256k'];

/** One-transaction bulk inserts into PostgreSQL. */
export const PG_BULK = ['pg-multirow', 'pg-unnest', 'pg-copy', 'pg-copy-binary'];
