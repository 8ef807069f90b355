import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const FULL = process.env.AGENT_RECORDS_FULL === '1';

export function fixture(name: string): string {
  return fileURLToPath(new URL(`../fixtures/${name}`, import.meta.url));
}

/** A child node process whose stdout lines are collected as they arrive. */
export function startChild(script: string, args: string[]) {
  const child = spawn(process.execPath, [fixture(script), ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  let partial = '';
  let stderr = '';
  const listeners: Array<() => void> = [];
  child.stdout?.setEncoding('utf8').on('data', (text: string) => {
    const parts = (partial + text).split('\n');
    partial = parts.pop() ?? '';
    lines.push(...parts);
    for (const listener of listeners.splice(0)) listener();
  });
  child.stderr?.setEncoding('utf8').on('data', (text: string) => {
    stderr += text;
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return {
    child,
    lines,
    stderr: () => stderr,
    exited,
    /** Resolves once the child has printed at least `count` lines. */
    async waitForLines(count: number, timeoutMs = 20_000): Promise<void> {
      const deadline = Date.now() + timeoutMs;
      while (lines.length < count) {
        if (Date.now() > deadline)
          throw new Error(`child printed ${lines.length} lines; stderr: ${stderr}`);
        if (child.exitCode !== null)
          throw new Error(`child exited (${child.exitCode}); stderr: ${stderr}`);
        await new Promise<void>((resolve) => {
          listeners.push(resolve);
          setTimeout(resolve, 50);
        });
      }
    },
    /** SIGKILL, then wait for the exit and the last piped output. */
    async kill(): Promise<void> {
      killHard(child);
      await exited;
      await new Promise((resolve) => setImmediate(resolve));
    },
  };
}

function killHard(child: ChildProcess): void {
  if (child.exitCode === null) child.kill('SIGKILL');
}

export function randomDelay(maxMs: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.random() * maxMs));
}
