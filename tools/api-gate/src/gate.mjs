// The compatibility gate: the committed report must match the code, and a report that changed
// since the package's last release needs a pending changeset with at least the matching bump.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import parseChangeset from '@changesets/parse';
import { isOptionalExtension } from './compat.mjs';
import {
  collectExports,
  createSourceFileCache,
  parseReport,
  REPORT_FILE,
  readPackageJson,
  renderReport,
} from './report.mjs';

const BUMP_RANK = { none: 0, patch: 1, minor: 2, major: 3 };

/**
 * Published packages of the workspace: `packages/*` with a `src/index.ts` and not private.
 * @param {string} root
 */
export function publishedPackages(root) {
  const dir = path.join(root, 'packages');
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true })
    .filter((entry) => entry.isDirectory())
    .map((entry) => path.join('packages', entry.name))
    .filter((rel) => existsSync(path.join(root, rel, 'package.json')))
    .filter((rel) => existsSync(path.join(root, rel, 'src', 'index.ts')))
    .map((rel) => ({
      rel,
      name: readPackageJson(path.join(root, rel)).name,
      json: readPackageJson(path.join(root, rel)),
    }))
    .filter((pkg) => pkg.json.private !== true)
    .map(({ rel, name }) => ({ rel, name }));
}

/**
 * @param {Map<string, string>} before
 * @param {Map<string, string>} after
 */
export function diffExports(before, after) {
  const removed = [...before.keys()].filter((name) => !after.has(name));
  const added = [...after.keys()].filter((name) => !before.has(name));
  const differing = [...after.keys()].filter(
    (name) => before.has(name) && squash(before.get(name)) !== squash(after.get(name)),
  );
  // An interface that only gained optional members is a minor change; anything else is major.
  const extended = differing.filter((name) =>
    isOptionalExtension(before.get(name) ?? '', after.get(name) ?? ''),
  );
  const changed = differing.filter((name) => !extended.includes(name));
  return { removed, added, changed, extended };
}

/** @param {{ removed: string[], added: string[], changed: string[], extended: string[] }} diff */
export function requiredBump(diff) {
  if (diff.removed.length > 0 || diff.changed.length > 0) return 'major';
  if (diff.added.length > 0 || diff.extended.length > 0) return 'minor';
  return 'none';
}

/**
 * The highest pending bump per package, from `.changeset/*.md`.
 * @param {string} root
 * @returns {Map<string, 'patch' | 'minor' | 'major'>}
 */
export function pendingBumps(root) {
  const dir = path.join(root, '.changeset');
  const bumps = new Map();
  if (!existsSync(dir)) return bumps;
  for (const file of readdirSync(dir)) {
    if (!file.endsWith('.md') || file === 'README.md') continue;
    const text = readFileSync(path.join(dir, file), 'utf8');
    let parsed;
    try {
      parsed = parseChangeset(text);
    } catch (error) {
      throw new Error(`.changeset/${file} is not a valid changeset: ${error.message}`);
    }
    for (const { name, type } of parsed.releases) {
      const previous = bumps.get(name) ?? 'none';
      if (BUMP_RANK[type] > BUMP_RANK[previous]) bumps.set(name, type);
    }
  }
  return bumps;
}

/**
 * The report as of the package's last release: the last commit that changed the `version` line
 * of its package.json (a `changeset version` commit, or the commit that created the package).
 * @param {string} root
 * @param {string} rel
 * @returns {{ commit: string, report: string | null } | null}
 */
export function releasedReport(root, rel) {
  const git = (...args) =>
    execFileSync('git', args, { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  try {
    git('rev-parse', '--verify', '--quiet', 'HEAD');
  } catch {
    return null; // a repository without commits has released nothing
  }
  const commit = git(
    'log',
    '-1',
    '--format=%H',
    '-G"version"[[:space:]]*:',
    '--',
    `${rel}/package.json`,
  ).trim();
  if (!commit) return null;
  try {
    return { commit, report: git('show', `${commit}:${rel}/${REPORT_FILE}`) };
  } catch {
    return { commit, report: null };
  }
}

/**
 * Runs the gate over every published package.
 * @param {string} root
 * @param {{ update?: boolean }} [options]
 * @returns {{ ok: boolean, messages: string[] }}
 */
export function runGate(root, options = {}) {
  const messages = [];
  let ok = true;
  const bumps = pendingBumps(root);
  const sourceFiles = createSourceFileCache();
  for (const { rel, name } of publishedPackages(root)) {
    const current = collectExports(path.join(root, rel), sourceFiles);
    const reportPath = path.join(root, rel, REPORT_FILE);
    const committed = existsSync(reportPath) ? readFileSync(reportPath, 'utf8') : null;
    if (options.update) {
      const rendered = renderReport(name, current);
      if (committed !== rendered) {
        writeFileSync(reportPath, rendered);
        messages.push(`${name}: wrote ${rel}/${REPORT_FILE}`);
      }
      continue;
    }
    const verdict = judgePackage({
      name,
      rel,
      current,
      committed,
      released: releasedReport(root, rel),
      pending: bumps.get(name) ?? 'none',
    });
    ok &&= verdict.ok;
    messages.push(...verdict.messages);
  }
  return { ok, messages };
}

/**
 * The gate's verdict on one package, from what it exports now, its committed report, its report
 * at the last release and its highest pending changeset. No file system, git or compiler here.
 * @param {{ name: string, rel: string, current: Map<string, string>, committed: string | null,
 *   released: { commit: string, report: string | null } | null,
 *   pending: 'none' | 'patch' | 'minor' | 'major' }} input
 * @returns {{ ok: boolean, messages: string[] }}
 */
export function judgePackage({ name, rel, current, committed, released, pending }) {
  const messages = [];
  let ok = true;
  if (committed !== renderReport(name, current)) {
    ok = false;
    const stale = diffExports(parseReport(committed ?? ''), current);
    messages.push(
      `${name}: ${rel}/${REPORT_FILE} does not match the code (${describe(stale)}). ` +
        'Run `pnpm api:update` and commit the report.',
    );
  }
  const baseline = parseReport(released?.report ?? '');
  const diff = diffExports(baseline, current);
  const needed = requiredBump(diff);
  if (BUMP_RANK[pending] < BUMP_RANK[needed]) {
    ok = false;
    const since = released ? `release ${released.commit.slice(0, 7)}` : 'nothing (never released)';
    messages.push(
      `${name}: API changed since ${since} (${describe(diff)}): needs a \`${needed}\` ` +
        `changeset, ${pending === 'none' ? 'found none' : `found only \`${pending}\``}. ` +
        `Run \`pnpm changeset\` and choose ${needed} for ${name}.`,
    );
  } else if (needed !== 'none') {
    messages.push(`${name}: ${describe(diff)}; covered by a pending \`${pending}\` changeset`);
  }
  return { ok, messages };
}

/** @param {{ removed: string[], added: string[], changed: string[], extended: string[] }} diff */
function describe(diff) {
  const parts = [];
  if (diff.removed.length) parts.push(`removed export ${diff.removed.map(quote).join(', ')}`);
  if (diff.changed.length) parts.push(`changed export ${diff.changed.map(quote).join(', ')}`);
  if (diff.extended.length) {
    parts.push(`optional members added to ${diff.extended.map(quote).join(', ')}`);
  }
  if (diff.added.length) parts.push(`added export ${diff.added.map(quote).join(', ')}`);
  return parts.length ? parts.join('; ') : 'same exports, formatting differs';
}

/**
 * Layout and quote style follow the source's formatting, not the API: compare without them.
 * @param {string | undefined} text
 */
function squash(text) {
  return (text ?? '')
    .replace(/\s+/g, ' ')
    .replace(/"/g, "'")
    .replace(/([{([]) | ([})\]])/g, '$1$2');
}

/** @param {string} name */
function quote(name) {
  return `\`${name}\``;
}
