// Where one write on an O_DSYNC descriptor stops beating write + fdatasync (both through libuv),
// by batch size, interleaved so a busy machine affects both alike. The writer's DSYNC_MAX_BYTES
// comes from this.
//   node packages/fs-persistence/scripts/measure-dsync-crossover.mjs [writes per size] [rounds]
import fs from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

const perRound = Number(process.argv[2] ?? 50);
const rounds = Number(process.argv[3] ?? 4);
const sizes = [4 << 10, 64 << 10, 256 << 10, 512 << 10, 1 << 20, 4 << 20];
const root = fs.mkdtempSync(path.join(tmpdir(), 'dsync-crossover-'));
const call = (run) => new Promise((ok, ko) => run((e, v) => (e ? ko(e) : ok(v))));
const samples = {};
try {
  for (let round = 0; round < rounds; round++) {
    for (const size of sizes) {
      const buffer = Buffer.alloc(size, 'x\n');
      for (const mode of round % 2 ? ['odsync', 'fdatasync'] : ['fdatasync', 'odsync']) {
        const file = path.join(root, `${mode}-${size}-${round}`);
        const { O_WRONLY, O_CREAT, O_DSYNC } = fs.constants;
        const flags = O_WRONLY | O_CREAT | (mode === 'odsync' ? O_DSYNC : 0);
        const fd = fs.openSync(file, flags, 0o600);
        const key = `${mode} ${size}`;
        samples[key] ??= [];
        for (let i = 0, at = 0; i < perRound; i++, at += size) {
          const start = process.hrtime.bigint();
          await call((done) => fs.write(fd, buffer, 0, size, at, done));
          if (mode === 'fdatasync') await call((done) => fs.fdatasync(fd, done));
          samples[key].push(Number(process.hrtime.bigint() - start) / 1e6);
        }
        fs.closeSync(fd);
        fs.rmSync(file);
      }
    }
  }
  const median = (list) => list.sort((a, b) => a - b)[list.length >> 1];
  for (const size of sizes) {
    const o = median(samples[`odsync ${size}`]);
    const f = median(samples[`fdatasync ${size}`]);
    console.log(
      `${String(size >> 10).padStart(5)} KiB: O_DSYNC write ${o.toFixed(3)} ms, write+fdatasync ${f.toFixed(3)} ms, ratio ${(o / f).toFixed(2)}`,
    );
  }
} finally {
  fs.rmSync(root, { recursive: true, force: true });
}
