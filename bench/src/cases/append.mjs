// Cases 1-3: batched append, durable append (flush after each record), concurrent producers.
import fs from 'node:fs';
import { nodeFileOperations } from '@agent-records/fs-persistence';
import { limitWrite, NaiveAppender, ReferenceAppender } from '../baselines.mjs';
import { fileBytes, measure, ours, oursFs, timeColdThenSteady, yieldNow } from '../lib/measure.mjs';
import { makeRecords } from '../records.mjs';

const callback = (call) =>
  new Promise((resolve, reject) => call((error) => (error ? reject(error) : resolve())));

/**
 * The durable baselines: each makes one record durable per call, the way its name says. The
 * `-async` ones keep the event loop free (libuv thread pool) as our writer must; the others block.
 */
const durableBaselines = {
  // write + fdatasync on an open descriptor, blocking: the floor for a durable append.
  'fdatasync-sync': (file) => {
    const fd = fs.openSync(file, 'a', 0o600);
    return {
      append: (line) => {
        fs.writeSync(fd, line);
        fs.fdatasyncSync(fd);
      },
      close: () => fs.closeSync(fd),
    };
  },
  // write then fdatasync through libuv: two thread-pool round trips.
  'fdatasync-async': (file) => {
    const fd = fs.openSync(file, 'a', 0o600);
    return {
      append: async (line) => {
        await callback((done) => fs.write(fd, line, done));
        await callback((done) => fs.fdatasync(fd, done));
      },
      close: () => fs.closeSync(fd),
    };
  },
  // One fs.write on an O_DSYNC descriptor: the write returns once the data is durable, so one
  // thread-pool round trip per record.
  'odsync-async': (file) => {
    const { O_WRONLY, O_APPEND, O_CREAT, O_DSYNC } = fs.constants;
    const fd = fs.openSync(file, O_WRONLY | O_APPEND | O_CREAT | O_DSYNC, 0o600);
    return {
      append: (line) => callback((done) => fs.write(fd, line, done)),
      close: () => fs.closeSync(fd),
    };
  },
  // The same O_DSYNC write, blocking.
  'odsync-sync': (file) => {
    const { O_WRONLY, O_APPEND, O_CREAT, O_DSYNC } = fs.constants;
    const fd = fs.openSync(file, O_WRONLY | O_APPEND | O_CREAT | O_DSYNC, 0o600);
    return { append: (line) => fs.writeSync(fd, line), close: () => fs.closeSync(fd) };
  },
  'open-write-fsync-close': (file) => ({
    append: (line) => {
      const fd = fs.openSync(file, 'a', 0o600);
      fs.writeSync(fd, line);
      fs.fsyncSync(fd);
      fs.closeSync(fd);
    },
    close: () => {},
  }),
  // appendFileSync + fsync: what a hand-rolled logger does.
  naive: (file) => {
    const appender = new NaiveAppender(file);
    return { append: (line) => appender.appendLine(line), close: () => appender.close() };
  },
  // Probes, not baselines (names.mjs DURABLE_PROBES): the O_DSYNC write into a file grown
  // beforehand (zeros, synced), overwritten in place. No append then changes the file's size, so
  // the sync need not commit the inode too: what SQLite's WAL, reused after a checkpoint, enjoys.
  // The file is not JSON Lines while written (zeros after the last line), so they are compared to
  // nothing: they show what growing the file costs each durable append.
  'probe-odsync-async-in-place': (file, room) => inPlace(file, room, 'async'),
  'probe-odsync-sync-in-place': (file, room) => inPlace(file, room, 'sync'),
};

/** An O_DSYNC descriptor on `file` grown to `room` bytes, written from offset 0 on. */
function inPlace(file, room, way) {
  fs.writeFileSync(file, Buffer.alloc(room));
  const grown = fs.openSync(file, 'r+');
  fs.fsyncSync(grown);
  fs.closeSync(grown);
  const fd = fs.openSync(file, fs.constants.O_WRONLY | fs.constants.O_DSYNC);
  let at = 0;
  const next = (line) => {
    const position = at;
    at += Buffer.byteLength(line);
    return position;
  };
  return {
    append:
      way === 'sync'
        ? (line) => fs.writeSync(fd, line, next(line))
        : (line) => callback((done) => fs.write(fd, line, next(line), done)),
    close: () => fs.closeSync(fd),
  };
}

/** The implementations the durable case knows besides ours (run.mjs builds its plan from it). */
export const DURABLE_BASELINES = Object.keys(durableBaselines);

export default {
  // 1. Batched append: `count` records logged (yielding every 1,000, as a live agent would), one flush.
  async batched({ impl, count, file }) {
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
        return { bytes: fileBytes(file), fsyncs: appender.fsyncs };
      });
    } else {
      const { records, persistence } = ours(impl, file, `batched-${process.pid}`);
      result = await measure(async () => {
        for (let i = 0; i < count; i++) {
          records.logRecord(data[i]);
          if (i % 1000 === 999) await yieldNow();
        }
        await records.flush();
        return { bytes: impl === 'ours' ? fileBytes(file) : bytes };
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

  // 2. Durable append: each record durable before the next; latency per record.
  async durable({ impl, count, file }) {
    const data = makeRecords(2 * count);
    let figures;
    if (durableBaselines[impl]) {
      // Stringified inside the timed call, as ours does it.
      // The in-place probes grow their file by what will be written (the records and the warm-up).
      const room = data.reduce((sum, r) => sum + Buffer.byteLength(JSON.stringify(r)) + 1, 64);
      const appender = durableBaselines[impl](file, room);
      await appender.append('{"type":"warmup"}\n'); // as ours gets one
      figures = await timeColdThenSteady(count, (i) =>
        appender.append(`${JSON.stringify(data[i])}\n`),
      );
      appender.close();
    } else if (impl === 'reference') {
      const appender = new ReferenceAppender(file);
      figures = await timeColdThenSteady(count, (i) => {
        appender.append(data[i]);
        return appender.flush();
      });
    } else {
      const { records, persistence } = ours(impl, file, `durable-${process.pid}`);
      records.logRecord({ type: 'warmup' });
      await records.flush();
      figures = await timeColdThenSteady(count, (i) => {
        records.logRecord(data[i]);
        return records.flush();
      });
      await persistence.close();
    }
    return { records: count, ...figures };
  },

  // 3. Eight producers, each awaiting flush() after its record: group commit should batch them.
  async concurrent({ impl, count, file }) {
    const data = makeRecords(count);
    const producers = 8;
    const start = performance.now();
    let fsyncs = 0;
    const produce = (append, flush) =>
      Promise.all(
        Array.from({ length: producers }, async (_, p) => {
          for (let i = p; i < count; i += producers) {
            append(data[i]);
            await flush();
          }
        }),
      );
    if (impl === 'reference') {
      const appender = new ReferenceAppender(file);
      await produce(
        (r) => appender.append(r),
        () => appender.flush(),
      );
      fsyncs = appender.fsyncs;
    } else {
      // Durable syncs through the backend's file-operations seam (real calls underneath): each
      // fdatasync, and each write on a descriptor opened with O_DSYNC (a sync of its own).
      const counter = { fsyncs: 0 };
      const dsyncFds = new Set();
      const fileOperations = {
        ...nodeFileOperations,
        open: async (path, flags, mode) => {
          const fd = await nodeFileOperations.open(path, flags, mode);
          if (typeof flags === 'number' && (flags & fs.constants.O_DSYNC) !== 0) dsyncFds.add(fd);
          return fd;
        },
        close: (fd) => {
          dsyncFds.delete(fd);
          return nodeFileOperations.close(fd);
        },
        write: (fd, ...rest) => {
          if (dsyncFds.has(fd)) counter.fsyncs++;
          return nodeFileOperations.write(fd, ...rest);
        },
        fdatasync: (fd) => {
          counter.fsyncs++;
          return nodeFileOperations.fdatasync(fd);
        },
      };
      const { records, persistence } = oursFs(file, { fileOperations });
      await produce(
        (r) => records.logRecord(r),
        () => records.flush(),
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
};
