// The report: one table per case, then the targets (each a ratio against a baseline from the
// same run) and the findings: every baseline with the same guarantees that beats ours.
import { DURABLE_SAME_GUARANTEE, FILE_READERS, PG_BULK } from './names.mjs';
import { TARGETS } from './targets.mjs';

const fmt = (value, digits = 1) =>
  typeof value === 'number' ? value.toFixed(digits) : String(value ?? '-');
const range = (figure, digits = 1) =>
  figure && typeof figure === 'object'
    ? `${fmt(figure.median, digits)} (${fmt(figure.min, digits)}-${fmt(figure.max, digits)})`
    : fmt(figure, digits);

const TABLES = [
  [
    '1. batched append',
    'batched',
    [
      ['ms', 'ms'],
      ['records/s', 'recordsPerSec', 0],
      ['MB/s', 'mbPerSec'],
      ['max stall ms', 'maxStallMs'],
      ['RSS growth MB', 'rssGrowthMB'],
    ],
  ],
  [
    '2. durable append (each record durable before the next; steady, then cold)',
    'durable',
    [
      ['p50 ms', 'p50Ms', 3],
      ['p99 ms', 'p99Ms', 3],
      ['max ms', 'maxMs', 3],
      ['cold p50 ms', 'coldP50Ms', 3],
      ['cold p99 ms', 'coldP99Ms', 3],
    ],
  ],
  [
    '3. 8 concurrent durable producers',
    'concurrent',
    [
      ['records/s', 'recordsPerSec', 0],
      ['durable syncs/record', 'fsyncsPerRecord', 3],
    ],
  ],
  [
    '4. replay',
    'replay',
    [
      ['ms', 'ms'],
      ['records/s', 'recordsPerSec', 0],
      ['MB/s', 'mbPerSec'],
      ['peak RSS MB', 'rssPeakMB'],
      ['max stall ms', 'maxStallMs'],
    ],
  ],
  [
    '4b. replay, large log (memory must not grow)',
    'replay-large',
    [
      ['ms', 'ms'],
      ['peak RSS MB', 'rssPeakMB'],
      ['RSS growth MB', 'rssGrowthMB'],
    ],
  ],
  [
    '5. rewrite, durable',
    'rewrite',
    [
      ['ms', 'ms'],
      ['records/s', 'recordsPerSec', 0],
      ['max stall ms', 'maxStallMs'],
      ['error', 'error'],
    ],
  ],
  [
    '5b. rewrite, large',
    'rewrite-large',
    [
      ['ms', 'ms'],
      ['max stall ms', 'maxStallMs'],
      ['RSS growth MB', 'rssGrowthMB'],
      ['error', 'error'],
    ],
  ],
  [
    '6. large payloads: 1 in 10 records carries a 1 MB image (replay)',
    'blobs',
    [
      ['log MB', 'logMB'],
      ['blob MB', 'blobMB'],
      ['replay ms', 'ms'],
      ['peak RSS MB', 'rssPeakMB'],
    ],
  ],
  [
    '7. resume through a realistic host: full replay vs snapshot + tail',
    'resume',
    [
      ['ms', 'ms'],
      ['records restored', 'restored', 0],
      ['from snapshot', 'fromSnapshot', 0],
      ['peak RSS MB (maxRSS)', 'maxRssMB'],
      ['state MB', 'stateMB'],
    ],
  ],
  [
    '8. listing a store of sessions',
    'listing',
    [
      ['ms', 'ms'],
      ['sessions', 'sessions', 0],
      ['peak RSS MB (maxRSS)', 'maxRssMB'],
    ],
  ],
  [
    '9. logRecord while a snapshot of a large state is taken',
    'snapshot-stall',
    [
      ['longest logRecord ms', 'maxLogRecordMs', 2],
      ['max loop stall ms', 'maxStallMs', 2],
      ['snapshot stored ms', 'ms'],
      ['records logged meanwhile', 'logged', 0],
    ],
  ],
];

export function report(results) {
  const lines = [];
  const m = results.machine;
  lines.push(
    `agent-records bench (${results.mode}, ${results.runs} runs each, median (min-max)); ${m.cpu}, ${m.cores} cores, node ${m.node}, disk ${m.disk}, load ${m.loadAtStart?.join(' ')} -> ${m.loadAtEnd?.join(' ')}`,
  );
  for (const [engine, reason] of Object.entries(results.skipped ?? {}))
    lines.push(`skipped: ${engine} rows: ${reason}`);
  for (const [title, kase, columns] of TABLES) {
    const entry = results.cases[kase];
    if (!entry) continue;
    lines.push('', `${title} [${entry.records}]`);
    if (entry.skipped || entry.error) {
      lines.push(entry.skipped ? `  skipped: ${entry.skipped}` : `  FAILED: ${entry.error}`);
      continue;
    }
    lines.push(['implementation', ...columns.map(([label]) => label)].join(' | '));
    for (const [impl, figures] of Object.entries(entry.implementations)) {
      if (figures.skipped || figures.error) {
        lines.push(
          `${impl} | ${figures.skipped ? `skipped: ${figures.skipped}` : `FAILED: ${figures.error}`}`,
        );
        continue;
      }
      lines.push(
        [impl, ...columns.map(([, key, digits]) => range(figures[key], digits))].join(' | '),
      );
    }
  }

  const med = (kase, impl, key) => results.cases[kase]?.implementations[impl]?.[key]?.median;
  lines.push('', 'targets (ratios against baselines measured in this run)');
  results.targets = TARGETS.map(({ name, value, pass }) => {
    const v = value(med);
    const met = typeof v === 'number' && !Number.isNaN(v) ? pass(v) : null;
    const label = met === null ? 'n/a   ' : met ? 'met   ' : 'MISSED';
    lines.push(`  ${label} ${name}: ${fmt(v, 3)}`);
    return { name, value: v, met };
  });

  lines.push(
    '',
    "findings: baselines that beat ours in this run (each baseline's guarantees: bench/README.md)",
  );
  results.findings = findings(med);
  if (results.findings.length === 0) lines.push('  none');
  for (const f of results.findings)
    lines.push(
      `  ${f.kase} ${f.key}: ${f.baseline} ${fmt(f.baselineValue, 3)} < ${f.ours} ${fmt(f.oursValue, 3)} (ours ${fmt(f.ratio, 2)}x)`,
    );
  return lines;
}

/** Which comparisons count: ours, the figure, the baselines with the same guarantees. */
const COMPARISONS = [
  ['batched', 'ours', 'ms', ['limit', 'reference', 'sqlite-full']],
  ['durable', 'ours', 'p50Ms', DURABLE_SAME_GUARANTEE],
  ['durable', 'ours', 'p99Ms', DURABLE_SAME_GUARANTEE],
  ['durable', 'ours', 'coldP50Ms', DURABLE_SAME_GUARANTEE],
  ['durable', 'ours', 'coldP99Ms', DURABLE_SAME_GUARANTEE],
  ['replay', 'ours', 'ms', [...FILE_READERS, 'sqlite-full']],
  ['batched', 'pg', 'ms', PG_BULK],
  ['durable', 'pg', 'p50Ms', ['pg-insert-autocommit']],
  ['durable', 'pg', 'p99Ms', ['pg-insert-autocommit']],
  ['replay', 'pg', 'ms', ['pg-select']],
  ['listing', 'list-all', 'ms', ['count-lines', 'parse-every-file']],
  ['listing', 'first-page', 'ms', ['stat-first-page']],
  ['resume', 'snapshot', 'ms', ['full', 'snapshot-fast-tail']],
];

function findings(med) {
  const out = [];
  for (const [kase, ours, key, baselines] of COMPARISONS) {
    const oursValue = med(kase, ours, key);
    if (typeof oursValue !== 'number') continue;
    for (const baseline of baselines) {
      const baselineValue = med(kase, baseline, key);
      if (typeof baselineValue === 'number' && baselineValue < oursValue)
        out.push({
          kase,
          key,
          ours,
          oursValue,
          baseline,
          baselineValue,
          ratio: oursValue / baselineValue,
        });
    }
  }
  return out;
}
