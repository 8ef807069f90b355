import { count, formatAge, formatBytes, type Paint, painter } from '../format.js';
import type { CliIo } from '../io.js';
import type { SnapshotReport, UnreadableSnapshot } from '../snapshot-check.js';
import { formatTime } from '../summary.js';
import { terminalTextDeep } from '../terminal-text.js';
import type { InspectReport } from './inspect.js';

/** The human view of `inspect`. */
export function printInspect(unsafeReport: InspectReport, io: CliIo): void {
  // Every string of the report (types, title, problems, lock host) as a terminal may show it.
  const report = terminalTextDeep(unsafeReport);
  const paint = painter(io);
  const lines = [
    `file:       ${report.file} (${formatBytes(report.size)})`,
    `protocol:   ${report.protocolVersion ?? '(no metadata record)'}${report.segments > 1 ? ` (${report.segments} segments)` : ''}`,
    `created:    ${formatTime(report.createdAt)}`,
    `time span:  ${formatTime(report.firstTime)} .. ${formatTime(report.lastTime)}`,
    `records:    ${report.records}`,
  ];
  const types = Object.entries(report.byType).sort((a, b) => b[1].bytes - a[1].bytes);
  if (types.length > 0) {
    lines.push('by type:');
    const width = Math.max(...types.map(([type]) => type.length));
    for (const [type, entry] of types) {
      const records = count(entry.count, 'record').padStart(16);
      lines.push(`  ${type.padEnd(width)}  ${records}  ${formatBytes(entry.bytes).padStart(12)}`);
    }
  }
  if (report.tornTail) {
    lines.push(
      `${paint('torn tail:', 'yellow')}  ${count(report.tornTail.bytes, 'byte')} at offset ${report.tornTail.offset} (an interrupted write; \`agent-records repair\` moves it aside)`,
    );
  }
  if (report.writeInProgress) {
    const w = report.writeInProgress;
    lines.push(
      `in progress: ${count(w.bytes, 'byte')} at offset ${w.offset}, being written by process ${w.pid} on ${w.host} (it holds the lock; an unfinished write, not damage)`,
    );
  }
  if (report.problemCount > 0) {
    lines.push(`${paint('problems:', 'red')}   ${report.problemCount}`);
    for (const p of report.problems.slice(0, 20))
      lines.push(`  ${report.file}:${p.line}:${p.offset}: ${p.problem}`);
    if (report.problemCount > 20)
      lines.push(`  ... and ${report.problemCount - 20} more (agent-records validate lists them)`);
  }
  if (report.blobs) {
    const b = report.blobs;
    const missing = b.missing > 0 ? paint(`, ${b.missing} missing`, 'red') : '';
    lines.push(
      `blobs:      ${b.referenced} referenced, ${b.present} present (${formatBytes(b.bytes)}) in ${b.dir}${missing}`,
    );
    if (b.hint) lines.push(`            ${b.hint}`);
  }
  lines.push(`summary:    ${describeSummary(report.summary)}`);
  lines.push(`snapshot:   ${describeSnapshot(report.snapshot, paint)}`);
  lines.push(
    `lock:       ${report.lock ? `${report.lock.alive ? 'held' : 'stale'} (pid ${report.lock.pid} on ${report.lock.host})` : 'none'}`,
  );
  io.out.write(`${lines.join('\n')}\n`);
}

/** A backend's position as `key=value` pairs: opaque, but worth seeing (fs: byte offset first). */
export function formatPosition(position: Record<string, unknown>): string {
  return Object.entries(position)
    .map(([key, value]) => `${key}=${typeof value === 'string' ? value : JSON.stringify(value)}`)
    .join(' ');
}

function describeSnapshot(
  snapshot: SnapshotReport | UnreadableSnapshot | null,
  paint: Paint,
  now = Date.now(),
): string {
  if (!snapshot) return 'none';
  if ('unreadable' in snapshot) {
    return `${paint('unreadable', 'yellow')}: ${snapshot.file}: ${snapshot.unreadable}; a replay ignores it, deleting it is safe`;
  }
  const verdict =
    snapshot.matches === true
      ? paint('matches the log', 'green')
      : snapshot.matches === false
        ? `${paint('does not match the log', 'yellow')} (${snapshot.problem}); a replay ignores it, deleting it is safe`
        : (snapshot.problem ?? 'not checked');
  return [
    `covers ${count(snapshot.records, 'record')}, ${formatBytes(snapshot.bytes)}, written ${formatAge(snapshot.writtenAt, now)} (${formatTime(snapshot.writtenAt)})`,
    `            in ${snapshot.file} at ${formatPosition(snapshot.position)}`,
    `            ${verdict}`,
  ].join('\n');
}

function describeSummary(summary: InspectReport['summary'], now = Date.now()): string {
  if (!summary) return 'none';
  const title = summary.title === undefined ? '(no title)' : JSON.stringify(summary.title);
  const records =
    summary.records === undefined ? 'records not counted yet' : count(summary.records, 'record');
  const current = summary.current
    ? ''
    : '\n            older than the log (the writer brings it up to date; `sessions` counts the rest)';
  return (
    `${title}, created ${formatTime(summary.createdAt)}, updated ${formatAge(summary.updatedAt, now)}` +
    ` (${formatTime(summary.updatedAt)}), ${records}, ${formatBytes(summary.bytes)}${current}`
  );
}
