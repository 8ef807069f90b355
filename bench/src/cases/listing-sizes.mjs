// The sizes of the listing case's sessions, deterministic. Real stores are mostly small sessions
// with a long tail: 95% of 1-64 KB, 5% of 64 KB-5 MB, 9 of 50 MB and one of 1 GB (full run:
// about 2.8 GB in all, so the parse-every-file baseline finishes in tens of seconds). Quick runs
// scale the big ones down.

function random(seed) {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const KB = 1024;
const MB = 1024 * KB;
const logUniform = (next, low, high) => Math.round(low * (high / low) ** next());

/** Target log sizes in bytes, one per session; every session is written through our backend. */
export function sessionSizes(count) {
  const full = count >= 10_000;
  const next = random(15);
  const huge = full ? 1024 * MB : 2 * MB;
  const big = full ? 50 * MB : 512 * KB;
  const bigCount = full ? 9 : 2;
  const sizes = [];
  for (let i = 0; i < count; i++) {
    if (i === Math.floor(count / 3)) sizes.push(huge);
    else if (
      i % Math.floor(count / bigCount) === 7 &&
      sizes.filter((s) => s === big).length < bigCount
    )
      sizes.push(big);
    else if (next() < 0.05) sizes.push(logUniform(next, 64 * KB, full ? 5 * MB : 256 * KB));
    else sizes.push(logUniform(next, KB, 64 * KB));
  }
  return sizes;
}
