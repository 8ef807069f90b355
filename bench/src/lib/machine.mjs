// The facts a figure needs beside it: machine, node, disk, database, and how busy the machine was.
import { execFileSync } from 'node:child_process';
import os from 'node:os';

function diskType(dir) {
  try {
    const lines = execFileSync('df', ['-T', dir], { encoding: 'utf8' }).trim().split('\n');
    const [device, type] = lines.at(-1).split(/\s+/);
    return `${type} (${device})`;
  } catch {
    return 'unknown';
  }
}

export function machineFacts(dir, postgres) {
  return {
    cpu: os.cpus()[0]?.model,
    cores: os.cpus().length,
    memoryGB: Math.round(os.totalmem() / 2 ** 30),
    platform: `${os.platform()} ${os.release()}`,
    node: process.version,
    disk: diskType(dir),
    postgres,
    // Load averages at the start (1, 5, 15 min): above ~0.5 per core, other work shares the CPUs.
    loadAtStart: os.loadavg().map((v) => Math.round(v * 100) / 100),
    dir,
  };
}
