// Generated data for the big cases, kept across runs in a folder keyed by everything that
// shapes it: the case's parameters and the code that writes it (records, host, our backends'
// builds). A folder is complete only once its `complete.json` is written.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const CACHE_ROOT =
  process.env.AGENT_RECORDS_BENCH_CACHE ?? path.join(os.tmpdir(), 'agent-records-bench-cache');

/** Files whose content, when changed, changes the generated data. */
export const codeFiles = (...specifiers) =>
  specifiers.map((s) =>
    s.startsWith('file:') ? fileURLToPath(s) : fileURLToPath(import.meta.resolve(s)),
  );

/**
 * `{ dir, facts }` for `name` with `params`: facts from `complete.json` when the data is there,
 * else null facts and an empty folder to generate into (folders of the same parameters written by older code are
 * removed: only the current code's data is kept).
 */
export function cacheFolder(name, params, files) {
  const hash = createHash('sha256').update(JSON.stringify(params));
  for (const file of files) hash.update(fs.readFileSync(file));
  const prefix = `${name}-${Object.values(params).join('-')}-`;
  const key = `${prefix}${hash.digest('hex').slice(0, 12)}`;
  const dir = path.join(CACHE_ROOT, key);
  const marker = path.join(dir, 'complete.json');
  if (fs.existsSync(marker)) return { dir, facts: JSON.parse(fs.readFileSync(marker, 'utf8')) };
  fs.mkdirSync(CACHE_ROOT, { recursive: true });
  for (const entry of fs.readdirSync(CACHE_ROOT))
    if (entry.startsWith(prefix))
      fs.rmSync(path.join(CACHE_ROOT, entry), { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  return { dir, facts: null };
}

/** Marks a folder complete with the facts that describe its data. */
export function completeFolder(dir, facts) {
  fs.writeFileSync(path.join(dir, 'complete.json'), `${JSON.stringify(facts, null, 2)}\n`);
  return facts;
}
