// Case 7 (issue 15): resume of a long session through a host whose restore does realistic work
// (lib/host.mjs): a full replay against the newest snapshot plus the records after it. Each in
// its own process; peak RSS is the kernel's maxRSS for that process.
import fs from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { AgentRecords } from '@agent-records/core';
import { FileSystemAgentRecordPersistence } from '@agent-records/fs-persistence';
import { cacheFolder, codeFiles, completeFolder } from '../lib/cache.mjs';
import { METADATA, missingSnapshotCapabilities, writeJsonl } from '../lib/generate.mjs';
import { AgentHost } from '../lib/host.mjs';
import { maxRssMB } from '../lib/measure.mjs';
import { makeRecord } from '../records.mjs';

const NEVER = Number.MAX_SAFE_INTEGER;

/** The core over our fs backend for `host`, with snapshots or without. */
function open(file, host, withSnapshots, warnings) {
  const onError = (error) => warnings.push(String(error?.message ?? error));
  const persistence = new FileSystemAgentRecordPersistence(file, { onError });
  const snapshots = withSnapshots
    ? // Only the snapshot the preparation asks for: no automatic ones in between.
      {
        take: host.take,
        restore: host.restoreState,
        version: 1,
        everyRecords: NEVER,
        everyBytes: NEVER,
      }
    : undefined;
  const records = new AgentRecords({
    persistence,
    protocolVersion: '1.0',
    restore: host.restoreRecord,
    onError,
    ...(snapshots ? { snapshots } : {}),
  });
  return { persistence, records };
}

/** Our stored snapshot restored, then the records after its offset in one read. */
async function fastTail(file, host) {
  const persistence = new FileSystemAgentRecordPersistence(file, { lock: false });
  const snapshot = await persistence.readSnapshot();
  host.restoreState(JSON.parse(snapshot.data).state);
  const fd = fs.openSync(file, 'r');
  const bytes = Buffer.allocUnsafe(fs.fstatSync(fd).size - snapshot.position.offset);
  fs.readSync(fd, bytes, 0, bytes.length, snapshot.position.offset);
  fs.closeSync(fd);
  let restored = snapshot.records;
  for (const line of bytes.toString('utf8').split('\n')) {
    if (line.length === 0) continue;
    host.restoreRecord(JSON.parse(line));
    restored++;
  }
  return restored;
}

function tailOf(count) {
  return Math.min(10_000, Math.floor(count / 10));
}

export default {
  /** The session: `count` records, a snapshot after the first count - tail, then the tail. */
  async 'prepare-resume'({ count }) {
    const missing = missingSnapshotCapabilities();
    if (missing) return { skipped: missing };
    const tail = tailOf(count);
    const files = codeFiles(
      '@agent-records/core',
      '@agent-records/fs-persistence',
      new URL('../records.mjs', import.meta.url).href,
      new URL('../lib/host.mjs', import.meta.url).href,
    );
    const { dir, facts } = cacheFolder('resume', { count, tail }, files);
    if (facts) return { ...facts, cached: true };
    const started = performance.now();
    const file = path.join(dir, 'session.jsonl');
    writeJsonl(file, [METADATA], 0, count - tail, makeRecord);
    const host = new AgentHost();
    const warnings = [];
    const { persistence, records } = open(file, host, true, warnings);
    await records.replay();
    records.snapshot();
    for (let i = count - tail; i < count; i++) {
      // A live host applies its own event and logs it.
      const record = makeRecord(i);
      host.restoreRecord(record);
      records.logRecord(record);
      if (i % 1000 === 999) await records.flush();
    }
    await records.flush();
    const snapshot = await persistence.readSnapshot();
    await persistence.close();
    if (!snapshot)
      throw new Error(`no snapshot was stored: ${warnings.join('; ') || 'no warning'}`);
    return completeFolder(dir, {
      dir,
      records: count + 1,
      tail,
      logMB: fs.statSync(file).size / 2 ** 20,
      snapshotMB: snapshot.bytes / 2 ** 20,
      snapshotRecords: snapshot.records,
      stateDigest: host.digest(),
      generatedMs: performance.now() - started,
    });
  },

  /**
   * 'full': every record through restore; 'snapshot': restore(state) + the tail, through the
   * core; 'snapshot-fast-tail': the same snapshot (our readSnapshot) with the tail read by one
   * plain read from the snapshot's byte offset (no position check, no lock: a weaker guarantee,
   * the floor for what reading the tail costs).
   */
  async resume({ impl, sharedFile }) {
    const facts = JSON.parse(fs.readFileSync(path.join(sharedFile, 'complete.json'), 'utf8'));
    const file = path.join(sharedFile, 'session.jsonl');
    const host = new AgentHost();
    const warnings = [];
    global.gc?.();
    const start = performance.now();
    if (impl === 'snapshot-fast-tail') {
      const restored = await fastTail(file, host);
      const ms = performance.now() - start;
      if (host.digest() !== facts.stateDigest)
        throw new Error(`the host's state differs: ${host.digest()} vs ${facts.stateDigest}`);
      return {
        ms,
        restored,
        fromSnapshot: facts.snapshotRecords,
        maxRssMB: maxRssMB(),
        stateMB: facts.snapshotMB,
      };
    }
    const { persistence, records } = open(file, host, impl === 'snapshot', warnings);
    const result = await records.replay();
    const ms = performance.now() - start;
    const maxRss = maxRssMB();
    await persistence.close();
    if (impl === 'snapshot' && !result.fromSnapshot)
      throw new Error(`the snapshot was not used: ${warnings.join('; ') || 'no warning'}`);
    if (host.digest() !== facts.stateDigest)
      throw new Error(`the host's state differs: ${host.digest()} vs ${facts.stateDigest}`);
    return {
      ms,
      restored: result.records,
      fromSnapshot: result.fromSnapshot?.records ?? 0,
      maxRssMB: maxRss,
      stateMB: facts.snapshotMB,
      logMB: facts.logMB,
    };
  },
};
