import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const agentScript = fileURLToPath(new URL('./fixtures/resumed-agent.mjs', import.meta.url));

export interface Outcome {
  id?: string;
  flushed?: boolean;
  code?: string;
  replayed?: number;
  closed?: string;
}

/** A real agent process that resumed `file`; `say(line)` writes a record and returns the outcome. */
export function startAgent(file: string) {
  const child = spawn(process.execPath, [agentScript, file], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const outcomes: Outcome[] = [];
  const waiting: Array<() => void> = [];
  let partial = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (text: string) => {
    const parts = (partial + text).split('\n');
    partial = parts.pop() ?? '';
    for (const part of parts) outcomes.push(JSON.parse(part));
    for (const wake of waiting.splice(0)) wake();
  });
  child.stderr.setEncoding('utf8').on('data', (text: string) => {
    stderr += text;
  });
  let read = 0;
  async function next(): Promise<Outcome> {
    const deadline = Date.now() + 20_000;
    while (outcomes.length <= read) {
      if (Date.now() > deadline || child.exitCode !== null) {
        throw new Error(`agent said nothing (exit ${child.exitCode}); stderr: ${stderr}`);
      }
      await new Promise<void>((resolve) => {
        waiting.push(resolve);
        setTimeout(resolve, 50);
      });
    }
    return outcomes[read++] as Outcome;
  }
  return {
    next,
    say: (line: string) => {
      child.stdin.write(`${line}\n`);
      return next();
    },
    kill: () => child.exitCode === null && child.kill('SIGKILL'),
  };
}
