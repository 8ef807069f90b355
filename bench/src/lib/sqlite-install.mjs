// SQLite is an optional baseline: better-sqlite3 builds from source here (about two minutes),
// which CI must not pay. It is installed only when asked, into a cache folder outside the
// workspace (and its lockfile), and found there on later runs.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';

export const SQLITE_PACKAGE = 'better-sqlite3@12';

export function sqliteCacheDir() {
  const base = process.env.XDG_CACHE_HOME ?? path.join(os.homedir(), '.cache');
  return path.join(base, 'agent-records-bench', 'sqlite');
}

/** True when better-sqlite3 in `dir` loads and opens a database (its native build is there). */
export function findSqlite(dir = sqliteCacheDir()) {
  try {
    const Database = createRequire(path.join(dir, 'package.json'))('better-sqlite3');
    new Database(':memory:').close();
    return true;
  } catch {
    return false;
  }
}

/**
 * `{ dir }` when better-sqlite3 is usable (installing it first if `install`), else `{ reason }`:
 * the SQLite rows are skipped with that reason printed.
 */
export function prepareSqlite({ install, log }) {
  const dir = sqliteCacheDir();
  if (findSqlite(dir)) return { dir };
  if (!install) {
    return {
      reason: `better-sqlite3 is not installed in ${dir}; run with --sqlite (or AGENT_RECORDS_BENCH_SQLITE=1) to install it there (builds from source, ~2 min)`,
    };
  }
  fs.mkdirSync(dir, { recursive: true });
  log(`installing ${SQLITE_PACKAGE} into ${dir} (builds from source, about two minutes)\n`);
  const npm = spawnSync(
    'npm',
    ['install', '--prefix', dir, '--no-audit', '--no-fund', '--no-save', SQLITE_PACKAGE],
    { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] },
  );
  if (npm.status !== 0 || !findSqlite(dir)) {
    const tail = `${npm.stderr ?? ''}${npm.error ?? ''}`.trim().split('\n').slice(-3).join(' / ');
    return { reason: `installing ${SQLITE_PACKAGE} failed (${npm.status}): ${tail}` };
  }
  return { dir };
}

/** better-sqlite3 from the cache folder run.mjs gave the worker. */
export function loadSqlite() {
  const dir = process.env.AGENT_RECORDS_BENCH_SQLITE_DIR ?? sqliteCacheDir();
  return createRequire(path.join(dir, 'package.json'))('better-sqlite3');
}
