// node bench/src/markdown.mjs [results.json]: the README's figures as Markdown, from one run's
// results (so the coordinator's re-run on a quiet machine pastes in the same shape).
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  DURABLE_PROBES,
  DURABLE_SAME_GUARANTEE,
  FILE_READERS,
  NON_BLOCKING_DURABLE,
  PG_BULK,
  READERS_LIKE_OURS,
} from './names.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const file = process.argv[2] ?? path.join(here, '..', 'results.json');
const results = JSON.parse(fs.readFileSync(file, 'utf8'));
const med = (kase, impl, key) => results.cases[kase]?.implementations[impl]?.[key]?.median;
const n = (value, digits = 1) => (typeof value === 'number' ? value.toFixed(digits) : '-');
const x = (a, b) =>
  typeof a === 'number' && typeof b === 'number' && b > 0 ? `${(a / b).toFixed(2)}x` : '-';
const ms = (kase, impl, key = 'ms', digits = 1) => `${n(med(kase, impl, key), digits)} ms`;

const m = results.machine;
const out = [];
out.push(
  `${results.date.slice(0, 10)}, ${m.cpu}, ${m.cores} cores, ${m.disk}, Node ${m.node}, PostgreSQL ${m.postgres ?? '-'}; load average ${m.loadAtStart?.[0]} at start, ${m.loadAtEnd?.[0]} at end (${results.mode}, ${results.runs} runs, medians).`,
  '',
  '| case | ours | baseline(s) from the same run | ours / baseline |',
  '| --- | --- | --- | --- |',
);
const row = (...cells) => out.push(`| ${cells.join(' | ')} |`);
const durableRow = (impl) =>
  `${impl} ${ms('durable', impl, 'p50Ms', 3)} / ${ms('durable', impl, 'p99Ms', 3)}`;
const coldRow = (impl) =>
  `${impl} ${ms('durable', impl, 'coldP50Ms', 3)} / ${ms('durable', impl, 'coldP99Ms', 3)}`;
const fastestOf = (kase, impls, key) =>
  Math.min(...impls.map((b) => med(kase, b, key)).filter((v) => typeof v === 'number'));

row(
  'batched append 100k',
  ms('batched', 'ours'),
  `limit ${ms('batched', 'limit')}; reference ${ms('batched', 'reference')}; SQLite FULL ${ms('batched', 'sqlite-full')}`,
  `${x(med('batched', 'ours', 'ms'), med('batched', 'limit', 'ms'))} limit; ${x(med('batched', 'ours', 'ms'), med('batched', 'sqlite-full', 'ms'))} SQLite`,
);
row(
  'batched: stall, RSS',
  `${ms('batched', 'ours', 'maxStallMs')}, +${n(med('batched', 'ours', 'rssGrowthMB'))} MB`,
  `reference stall ${ms('batched', 'reference', 'maxStallMs')}`,
  '-',
);
const durableVersus = (p50, p99) =>
  `p50 ${x(med('durable', 'ours', p50), fastestOf('durable', NON_BLOCKING_DURABLE, p50))} fastest non-blocking, ${x(med('durable', 'ours', p50), med('durable', 'naive', p50))} naive, ${x(med('durable', 'ours', p50), med('durable', 'sqlite-full', p50))} SQLite; p99 ${x(med('durable', 'ours', p99), med('durable', 'naive', p99))} naive, ${x(med('durable', 'ours', p99), med('durable', 'sqlite-full', p99))} SQLite`;
const shownDurable = [...DURABLE_SAME_GUARANTEE.filter((b) => b !== 'reference'), 'sqlite-normal'];
row(
  'durable p50 / p99 (steady: after the first 2,000)',
  `${ms('durable', 'ours', 'p50Ms', 3)} / ${ms('durable', 'ours', 'p99Ms', 3)}`,
  shownDurable.map(durableRow).join('; '),
  durableVersus('p50Ms', 'p99Ms'),
);
row(
  'durable p50 / p99 (cold: the first 2,000 in a fresh process)',
  `${ms('durable', 'ours', 'coldP50Ms', 3)} / ${ms('durable', 'ours', 'coldP99Ms', 3)}`,
  shownDurable.map(coldRow).join('; '),
  durableVersus('coldP50Ms', 'coldP99Ms'),
);
row(
  'durable p50 / p99, probes: O_DSYNC into a file grown beforehand (not a log format; see above)',
  '-',
  DURABLE_PROBES.map(durableRow).join('; '),
  `odsync-async ${x(med('durable', 'odsync-async', 'p50Ms'), med('durable', DURABLE_PROBES[0], 'p50Ms'))} its in-place probe, naive ${x(med('durable', 'naive', 'p50Ms'), med('durable', DURABLE_PROBES[1], 'p50Ms'))} the blocking one (p50)`,
);
row(
  '8 concurrent producers',
  `${n(med('concurrent', 'ours', 'fsyncsPerRecord'), 3)} durable syncs/record`,
  `reference ${n(med('concurrent', 'reference', 'fsyncsPerRecord'), 3)}`,
  '-',
);
const readers = [...FILE_READERS, 'sqlite-full'];
const fastestReader = fastestOf('replay', FILE_READERS, 'ms');
row(
  'replay 100k',
  `${ms('replay', 'ours')}, ${n(med('replay', 'ours', 'rssPeakMB'))} MB, stall ${ms('replay', 'ours', 'maxStallMs')}`,
  readers.map((r) => `${r} ${ms('replay', r)} (stall ${ms('replay', r, 'maxStallMs')})`).join('; '),
  `${x(med('replay', 'ours', 'ms'), fastestReader)} fastest reader; ` +
    `${x(med('replay', 'ours', 'ms'), fastestOf('replay', READERS_LIKE_OURS, 'ms'))} fastest like ours`,
);
row(
  'replay 1M: peak RSS',
  `${n(med('replay-large', 'ours', 'rssPeakMB'))} MB (${ms('replay-large', 'ours')})`,
  '-',
  '-',
);
row(
  'rewrite 1M',
  `${ms('rewrite-large', 'ours')}, stall ${ms('rewrite-large', 'ours', 'maxStallMs')}`,
  `reference ${ms('rewrite-large', 'reference')}, RSS +${n(med('rewrite-large', 'reference', 'rssGrowthMB'), 0)} MB`,
  '-',
);
row(
  'PostgreSQL batched 100k',
  ms('batched', 'pg'),
  PG_BULK.map((b) => `${b} ${ms('batched', b)}`).join('; '),
  x(med('batched', 'pg', 'ms'), fastestOf('batched', PG_BULK, 'ms')),
);
row(
  'PostgreSQL durable p50 / p99',
  `${ms('durable', 'pg', 'p50Ms', 3)} / ${ms('durable', 'pg', 'p99Ms', 3)}`,
  durableRow('pg-insert-autocommit'),
  x(med('durable', 'pg', 'p50Ms'), med('durable', 'pg-insert-autocommit', 'p50Ms')),
);
row(
  'PostgreSQL replay 100k',
  ms('replay', 'pg'),
  `one SELECT ${ms('replay', 'pg-select')}`,
  x(med('replay', 'pg', 'ms'), med('replay', 'pg-select', 'ms')),
);
row(
  'resume 1M (snapshot + 10k tail)',
  `${ms('resume', 'snapshot')}, ${n(med('resume', 'snapshot', 'maxRssMB'))} MB`,
  `full replay ${ms('resume', 'full')}, ${n(med('resume', 'full', 'maxRssMB'))} MB`,
  x(med('resume', 'snapshot', 'ms'), med('resume', 'full', 'ms')),
);
row(
  'listing 20,000: first page of 50',
  ms('listing', 'first-page'),
  `stat + sort + parse 50: ${ms('listing', 'stat-first-page')}`,
  x(med('listing', 'first-page', 'ms'), med('listing', 'stat-first-page', 'ms')),
);
row(
  'listing 20,000: all',
  ms('listing', 'list-all'),
  `parse every file ${ms('listing', 'parse-every-file')}; count lines ${ms('listing', 'count-lines')}`,
  `${x(med('listing', 'list-all', 'ms'), med('listing', 'parse-every-file', 'ms'))} parse; ${x(med('listing', 'list-all', 'ms'), med('listing', 'count-lines', 'ms'))} count`,
);
row(
  'snapshot of a 20 MB state: longest logRecord, loop stall',
  `${ms('snapshot-stall', 'ours', 'maxLogRecordMs', 2)}, ${ms('snapshot-stall', 'ours', 'maxStallMs', 2)} (stored in ${ms('snapshot-stall', 'ours')})`,
  `JSON.stringify at once ${ms('snapshot-stall', 'stringify-at-once')}`,
  x(med('snapshot-stall', 'ours', 'maxStallMs'), med('snapshot-stall', 'stringify-at-once', 'ms')),
);
out.push('', 'Targets:', '');
for (const t of results.targets ?? [])
  out.push(
    `- ${t.met === null ? 'n/a' : t.met ? 'met' : '**missed**'}: ${t.name}: ${n(t.value, 3)}`,
  );
out.push(
  '',
  "Findings: every baseline faster than ours (each baseline's guarantees are in the cases table):",
  '',
);
for (const f of results.findings ?? [])
  out.push(
    `- ${f.kase} ${f.key}: ${f.baseline} ${n(f.baselineValue, 3)} < ${f.ours} ${n(f.oursValue, 3)} (ours ${n(f.ratio, 2)}x)`,
  );
console.log(out.join('\n'));
