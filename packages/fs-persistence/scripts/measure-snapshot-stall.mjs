// The longest event-loop gap while a large state is snapshotted (issue 15: `logRecord` never
// stalls > 20 ms for a 20 MB state), end to end through AgentRecords and a backend: a 1 ms
// setInterval records the longest gap between its calls while logRecord runs every ~3 ms, from
// records.snapshot() until flush() saw the snapshot stored. The same window without a snapshot
// ("baseline") shows what the machine alone costs: compare the two in one run. In brackets: the
// process's CPU time within that longest-busy gap (low when the machine, not this code, held it).
//   node packages/fs-persistence/scripts/measure-snapshot-stall.mjs [MB list] [backends] [rounds]
//   e.g. ... 20,30 memory,fs,pg 3     (pg: DATABASE_URL or 127.0.0.1:5432 db test, trust auth)
// Needs the built dist of core, memory-persistence, fs-persistence (and pg-persistence).
// COMPARE=<dir> also runs, interleaved round by round, the core and file backend bundled as
// <dir>/core.js and <dir>/fs.js (e.g. an older commit's src bundled with esbuild): a before/after
// in one run, on the same busy machine.
import fs from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { InMemoryAgentRecordPersistence } from '../../memory-persistence/dist/index.js';

const builds = [{ label: 'now', core: '../../core/dist/index.js', fs: '../dist/index.js' }];
if (process.env.COMPARE) {
  const dir = path.resolve(process.env.COMPARE);
  builds.push({ label: 'compare', core: `${dir}/core.js`, fs: `${dir}/fs.js` });
}
for (const build of builds) {
  build.AgentRecords = (await import(build.core)).AgentRecords;
  build.FileSystem = (await import(build.fs)).FileSystemAgentRecordPersistence;
}

const sizes = (process.argv[2] ?? '20,30').split(',').map(Number);
const backends = (process.argv[3] ?? 'memory,fs').split(',');
const rounds = Number(process.argv[4] ?? 3);
const root = fs.mkdtempSync(path.join(tmpdir(), 'measure-snapshot-stall-'));

/** A conversation-like state of about `mb` MB of JSON: messages with text, parts and numbers. */
function stateOf(mb) {
  const history = [];
  let bytes = 0;
  for (let i = 0; bytes < mb * 1_000_000; i++) {
    const message = {
      role: i % 2 ? 'assistant' : 'user',
      turn: i,
      content: `Message ${i}: ${'lorem ipsum dolor sit amet, é '.repeat(12)}`,
      parts: [
        { type: 'text', text: `part ${i}` },
        { type: 'tool', name: 'search', args: { q: i } },
      ],
      at: 1_700_000_000_000 + i,
    };
    bytes += JSON.stringify(message).length + 1;
    history.push(message);
  }
  return { history };
}

async function persistenceOf(build, backend, name) {
  if (backend === 'memory') return { persistence: new InMemoryAgentRecordPersistence() };
  if (backend === 'fs') {
    return { persistence: new build.FileSystem(path.join(root, `${name}.jsonl`)) };
  }
  const pg = await import('../../pg-persistence/node_modules/pg/lib/index.js');
  const { PostgresAgentRecordPersistence, ensureSchema } = await import(
    '../../pg-persistence/dist/index.js'
  );
  const pool = new pg.default.Pool({
    connectionString: process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test',
  });
  await ensureSchema(pool, { schema: 'public', table: 'agent_records' });
  return {
    persistence: new PostgresAgentRecordPersistence(`stall-${name}`, { pool }),
    end: () => pool.end(),
  };
}

/** Runs `during` with the gap monitor and logRecord every ~3 ms; the longest gap and call. */
async function window(records, during) {
  let last = performance.now();
  let lastCpu = process.cpuUsage();
  let longestGap = 0;
  let longestBusy = 0;
  const monitor = setInterval(() => {
    const now = performance.now();
    const cpu = process.cpuUsage(lastCpu);
    // The process's CPU time within the gap (all its threads): a gap the machine's other work
    // caused (this process preempted) has little; one this thread spent working has about all.
    const busy = Math.min(now - last, (cpu.user + cpu.system) / 1000);
    longestGap = Math.max(longestGap, now - last);
    longestBusy = Math.max(longestBusy, busy);
    last = now;
    lastCpu = process.cpuUsage();
  }, 1);
  let longestCall = 0;
  let n = 0;
  const logger = setInterval(() => {
    const start = performance.now();
    records.logRecord({ type: 'item.add', value: `v${n++}` });
    longestCall = Math.max(longestCall, performance.now() - start);
  }, 3);
  const started = performance.now();
  await during();
  const took = performance.now() - started;
  clearInterval(monitor);
  clearInterval(logger);
  return { longestGap, longestBusy, longestCall, took };
}

const fmt = (x) => x.toFixed(1).padStart(6);
console.log(`node ${process.version}, rounds ${rounds}; gaps and calls in ms`);
console.log(
  'build    backend  MB  round  baseline-gap(busy)  snapshot-gap(busy)  longest-logRecord  snapshot-ms  stored-MB',
);
for (const backend of backends) {
  for (const mb of sizes) {
    const state = stateOf(mb);
    for (let round = 1; round <= rounds; round++) {
      for (const build of builds) {
        const { persistence, end } = await persistenceOf(
          build,
          backend,
          `${build.label}-${mb}-${round}-${Date.now()}`,
        );
        const records = new build.AgentRecords({
          persistence,
          protocolVersion: '1.1',
          restore: () => {},
          snapshots: {
            take: () => state,
            restore: () => {},
            everyRecords: Infinity,
            everyBytes: Infinity,
          },
        });
        await records.replay();
        records.logRecord({ type: 'item.add', value: 'first' });
        await records.flush();
        let snapshotMs = 0;
        const withSnapshot = await window(records, async () => {
          const start = performance.now();
          records.snapshot();
          await records.flush();
          snapshotMs = performance.now() - start;
        });
        const baseline = await window(records, async () => {
          await new Promise((resolve) => setTimeout(resolve, Math.max(200, snapshotMs)));
          await records.flush();
        });
        const stored = await persistence.readSnapshot();
        await records.close();
        await end?.();
        console.log(
          `${build.label.padEnd(8)} ${backend.padEnd(7)} ${String(mb).padStart(3)}  ${String(round).padStart(5)}  ${fmt(baseline.longestGap)} (${fmt(baseline.longestBusy)})  ${fmt(withSnapshot.longestGap)} (${fmt(withSnapshot.longestBusy)})  ${fmt(withSnapshot.longestCall)}             ${fmt(snapshotMs)}    ${stored ? (stored.bytes / 1e6).toFixed(1) : 'NONE'}`,
        );
      }
    }
  }
}
fs.rmSync(root, { recursive: true, force: true });
