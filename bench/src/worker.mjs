// Runs one measurement in a fresh process (so memory figures are its own) and prints JSON.
// usage: node worker.mjs <case> <implementation> <count> <dir>
import fs from 'node:fs';
import path from 'node:path';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { AgentRecords } from '@agent-records/core';
import {
  FileSystemAgentRecordPersistence,
  nodeFileOperations,
} from '@agent-records/fs-persistence';
import { InMemoryAgentRecordPersistence } from '@agent-records/memory-persistence';
import { PostgresAgentRecordPersistence } from '@agent-records/pg-persistence';
import {
  limitRead,
  limitWrite,
  NaiveAppender,
  ReferenceAppender,
  referenceRead,
  referenceRewrite,
} from './baselines.mjs';
import { makeRecord, makeRecords } from './records.mjs';

const [kase, impl, countArg, dir, sharedLog] = process.argv.slice(2);
const count = Number(countArg);
// Replay reads a log prepared once by another process, so its memory figures are its own.
const file = sharedLog ?? path.join(dir, `${kase}-${impl}-${process.pid}.jsonl`);

/** Samples RSS and event-loop delay while `run` goes. */
async function measure(run) {
  global.gc?.();
  const rssBefore = process.memoryUsage().rss;
  let rssPeak = rssBefore;
  const sample = setInterval(() => {
    rssPeak = Math.max(rssPeak, process.memoryUsage().rss);
  }, 2);
  const loop = monitorEventLoopDelay({ resolution: 1 });
  loop.enable();
  const start = performance.now();
  const extra = (await run()) ?? {};
  const ms = performance.now() - start;
  loop.disable();
  clearInterval(sample);
  rssPeak = Math.max(rssPeak, process.memoryUsage().rss);
  return {
    ms,
    maxStallMs: loop.max / 1e6,
    rssBeforeMB: rssBefore / 2 ** 20,
    rssPeakMB: rssPeak / 2 ** 20,
    rssGrowthMB: (rssPeak - rssBefore) / 2 ** 20,
    ...extra,
  };
}

const yieldNow = () => new Promise((resolve) => setImmediate(resolve));

/** Counts fdatasync calls through the backend's file-operations seam (real calls underneath). */
function countingOps() {
  const counter = { fsyncs: 0 };
  const ops = {
    ...nodeFileOperations,
    fdatasync: (fd) => {
      counter.fsyncs++;
      return nodeFileOperations.fdatasync(fd);
    },
  };
  return { ops, counter };
}

function oursFs(options = {}) {
  const persistence = new FileSystemAgentRecordPersistence(file, { onError: () => {}, ...options });
  return {
    persistence,
    records: new AgentRecords({ persistence, protocolVersion: '1.0', onError: () => {} }),
  };
}

const PG_URL = process.env.AGENT_RECORDS_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const PG_SCHEMA = process.env.AGENT_RECORDS_BENCH_SCHEMA ?? 'agent_records_bench';

function oursPg(sessionId = `${kase}-${process.pid}`) {
  const persistence = new PostgresAgentRecordPersistence(sessionId, {
    connectionString: PG_URL,
    schema: PG_SCHEMA,
    onError: () => {},
  });
  return {
    persistence,
    records: new AgentRecords({ persistence, protocolVersion: '1.0', onError: () => {} }),
  };
}

function oursMemory() {
  const persistence = new InMemoryAgentRecordPersistence([], { onError: () => {} });
  return {
    persistence,
    records: new AgentRecords({ persistence, protocolVersion: '1.0', onError: () => {} }),
  };
}

function percentile(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))];
}

function latencies(values) {
  const sorted = [...values].sort((a, b) => a - b);
  return {
    p50Ms: percentile(sorted, 50),
    p99Ms: percentile(sorted, 99),
    meanMs: values.reduce((a, b) => a + b, 0) / values.length,
  };
}

const fileBytes = () => (fs.existsSync(file) ? fs.statSync(file).size : 0);

const cases = {
  // 1. Batched append: `count` records logged (yielding every 1,000, as a live agent would), one flush.
  async batched() {
    const data = makeRecords(count);
    const bytes = data.reduce((sum, r) => sum + Buffer.byteLength(JSON.stringify(r)) + 1, 0);
    let result;
    if (impl === 'limit') {
      result = await measure(() => ({ bytes: limitWrite(file, data) }));
    } else if (impl === 'reference') {
      const appender = new ReferenceAppender(file);
      result = await measure(async () => {
        for (let i = 0; i < count; i++) {
          appender.append(data[i]);
          if (i % 1000 === 999) await yieldNow();
        }
        await appender.flush();
        return { bytes: fileBytes(), fsyncs: appender.fsyncs };
      });
    } else {
      const { records, persistence } =
        impl === 'memory' ? oursMemory() : impl === 'pg' ? oursPg() : oursFs();
      result = await measure(async () => {
        for (let i = 0; i < count; i++) {
          records.logRecord(data[i]);
          if (i % 1000 === 999) await yieldNow();
        }
        await records.flush();
        return { bytes: impl === 'ours' ? fileBytes() : bytes };
      });
      await persistence.close();
    }
    return {
      ...result,
      records: count,
      recordsPerSec: count / (result.ms / 1000),
      mbPerSec: result.bytes / 2 ** 20 / (result.ms / 1000),
    };
  },

  // 2. Durable append: flush after every record; latency per record.
  async durable() {
    const data = makeRecords(count);
    const times = [];
    if (impl === 'fdatasync-async') {
      // One write + one fdatasync on an open descriptor, through libuv as our writer does it.
      const fd = fs.openSync(file, 'a', 0o600);
      for (const record of data) {
        const t = performance.now();
        await new Promise((resolve, reject) =>
          fs.write(fd, `${JSON.stringify(record)}\n`, (error) =>
            error ? reject(error) : resolve(),
          ),
        );
        await new Promise((resolve, reject) =>
          fs.fdatasync(fd, (error) => (error ? reject(error) : resolve())),
        );
        times.push(performance.now() - t);
      }
      fs.closeSync(fd);
    } else if (impl === 'fdatasync-sync') {
      // One write + one fdatasync on an open descriptor, blocking: the floor for a durable append.
      const fd = fs.openSync(file, 'a', 0o600);
      for (const record of data) {
        const t = performance.now();
        fs.writeSync(fd, `${JSON.stringify(record)}\n`);
        fs.fdatasyncSync(fd);
        times.push(performance.now() - t);
      }
      fs.closeSync(fd);
    } else if (impl === 'open-write-fsync-close') {
      for (const record of data) {
        const t = performance.now();
        const fd = fs.openSync(file, 'a', 0o600);
        fs.writeSync(fd, `${JSON.stringify(record)}\n`);
        fs.fsyncSync(fd);
        fs.closeSync(fd);
        times.push(performance.now() - t);
      }
    } else if (impl === 'naive') {
      const appender = new NaiveAppender(file);
      for (const record of data) {
        const t = performance.now();
        appender.append(record);
        times.push(performance.now() - t);
      }
      appender.close();
    } else if (impl === 'reference') {
      const appender = new ReferenceAppender(file);
      for (const record of data) {
        const t = performance.now();
        appender.append(record);
        await appender.flush();
        times.push(performance.now() - t);
      }
    } else {
      const { records, persistence } =
        impl === 'memory' ? oursMemory() : impl === 'pg' ? oursPg() : oursFs();
      records.logRecord({ type: 'warmup' });
      await records.flush();
      for (const record of data) {
        const t = performance.now();
        records.logRecord(record);
        await records.flush();
        times.push(performance.now() - t);
      }
      await persistence.close();
    }
    return { records: count, ...latencies(times) };
  },

  // 3. Eight producers, each awaiting flush() after its record: group commit should batch them.
  async concurrent() {
    const data = makeRecords(count);
    const producers = 8;
    const start = performance.now();
    let fsyncs = 0;
    if (impl === 'reference') {
      const appender = new ReferenceAppender(file);
      await Promise.all(
        Array.from({ length: producers }, async (_, p) => {
          for (let i = p; i < count; i += producers) {
            appender.append(data[i]);
            await appender.flush();
          }
        }),
      );
      fsyncs = appender.fsyncs;
    } else {
      const { ops, counter } = countingOps();
      const { records, persistence } = oursFs({ fileOperations: ops });
      await Promise.all(
        Array.from({ length: producers }, async (_, p) => {
          for (let i = p; i < count; i += producers) {
            records.logRecord(data[i]);
            await records.flush();
          }
        }),
      );
      await persistence.close();
      fsyncs = counter.fsyncs;
    }
    const ms = performance.now() - start;
    return {
      records: count,
      ms,
      recordsPerSec: count / (ms / 1000),
      fsyncsPerRecord: fsyncs / count,
    };
  },

  // Writes the log that the replay cases read.
  async prepare() {
    const metadata = { type: 'metadata', protocol_version: '1.0', created_at: 1 };
    return { bytes: limitWrite(file, [metadata, ...makeRecords(count)]) };
  },

  // Writes the session that the PostgreSQL replay case reads.
  async 'prepare-pg'() {
    const { persistence } = oursPg(`replay-${count}`);
    persistence.rewrite([
      { type: 'metadata', protocol_version: '1.0', created_at: 1 },
      ...makeRecords(count),
    ]);
    await persistence.close();
    return {};
  },

  // 4. Replay of a log of `count` records at the current version.
  async replay() {
    const bytes = fs.statSync(file).size;
    let result;
    if (impl === 'pg') {
      const { persistence } = oursPg(`replay-${count}`);
      let restored = 0;
      const records = new AgentRecords({
        persistence,
        protocolVersion: '1.0',
        restore: () => {
          restored++;
        },
      });
      result = await measure(async () => {
        await records.replay();
        return { restored };
      });
      await persistence.close();
    } else if (impl === 'limit') {
      result = await measure(() => ({ restored: limitRead(file) }));
    } else if (impl === 'reference') {
      result = await measure(async () => ({ restored: await referenceRead(file) }));
    } else {
      const persistence = new FileSystemAgentRecordPersistence(file, { lock: false });
      let restored = 0;
      const records = new AgentRecords({
        persistence,
        protocolVersion: '1.0',
        restore: () => {
          restored++;
        },
      });
      result = await measure(async () => {
        await records.replay();
        return { restored };
      });
    }
    return {
      ...result,
      records: count,
      bytes,
      recordsPerSec: count / (result.ms / 1000),
      mbPerSec: bytes / 2 ** 20 / (result.ms / 1000),
    };
  },

  // 5. Rewrite of `count` records, durable.
  async rewrite() {
    const data = makeRecords(count);
    fs.writeFileSync(file, '{"type":"metadata","protocol_version":"0.9","created_at":1}\n');
    let result;
    if (impl === 'limit') {
      result = await measure(() => ({ bytes: limitWrite(file, data) }));
    } else if (impl === 'reference') {
      result = await measure(() => {
        try {
          return { bytes: referenceRewrite(file, data) };
        } catch (error) {
          return { error: `${error.name}: ${error.message}` };
        }
      });
    } else {
      const persistence = new FileSystemAgentRecordPersistence(file, { onError: () => {} });
      result = await measure(async () => {
        persistence.rewrite(data);
        await persistence.flush();
        return { bytes: fileBytes() };
      });
      await persistence.close();
    }
    return { ...result, records: count, recordsPerSec: count / (result.ms / 1000) };
  },
};

// 6. Large payloads: `count` records, one in ten carrying a 1 MB image, with and without blobs.
function imageRecords() {
  const out = [];
  for (let i = 0; i < count; i++) {
    const record = makeRecord(i);
    if (i % 10 === 5) {
      const bytes = Buffer.alloc(1024 * 1024);
      for (let b = 0; b < bytes.length; b += 4)
        bytes.writeUInt32LE((Math.imul(i + 1, 2654435761) + b * 40503) >>> 0, b);
      record.message = {
        role: 'user',
        content: [
          { type: 'text', text: 'what does this screenshot show?' },
          { type: 'image', source: `data:image/png;base64,${bytes.toString('base64')}` },
        ],
      };
    }
    out.push(record);
  }
  return out;
}
const blobOptions = () => (impl === 'blobs' ? { blobs: { dir: `${file}.blobs` } } : {});

cases['prepare-blobs'] = async () => {
  const persistence = new FileSystemAgentRecordPersistence(file, { lock: false, ...blobOptions() });
  persistence.append({ type: 'metadata', protocol_version: '1.0', created_at: 1 });
  // Flush as a live agent would: 130 MB of images queued at once would exceed maxPendingBytes.
  for (const [i, record] of imageRecords().entries()) {
    persistence.append(record);
    if (i % 10 === 9) await persistence.flush();
  }
  await persistence.close();
  return {};
};

cases.blobs = async () => {
  const logBytes = fs.statSync(file).size;
  const blobDir = `${file}.blobs`;
  const blobBytes =
    impl === 'blobs'
      ? fs
          .readdirSync(blobDir)
          .reduce((sum, name) => sum + fs.statSync(path.join(blobDir, name)).size, 0)
      : 0;
  const persistence = new FileSystemAgentRecordPersistence(file, { lock: false, ...blobOptions() });
  let restored = 0;
  const records = new AgentRecords({
    persistence,
    protocolVersion: '1.0',
    restore: () => {
      restored++;
    },
  });
  const result = await measure(async () => {
    await records.replay();
    return { restored };
  });
  return { ...result, records: count, logMB: logBytes / 2 ** 20, blobMB: blobBytes / 2 ** 20 };
};

cases['replay-large'] = cases.replay;
cases['rewrite-large'] = cases.rewrite;

try {
  const result = await cases[kase]();
  process.stdout.write(`${JSON.stringify(result)}\n`);
} finally {
  if (!sharedLog) fs.rmSync(file, { force: true });
}
