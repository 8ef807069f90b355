// pnpm demo: a scripted agent logs a session to a JSON Lines file, is killed with SIGKILL
// mid-write, and a fresh agent rebuilds its state from the log. Then the CLI inspects and
// validates the log, and an old-version log is migrated on replay.
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { FileSystemAgentRecordPersistence } from '@agent-records/fs-persistence';
import { DemoAgent } from './agent.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const keep = process.argv.includes('--keep');
const workDir = path.resolve(
  process.env.AGENT_RECORDS_DEMO_DIR ?? path.join(here, '..', '..', '.demo'),
);
const cli = path.join(
  path.dirname(createRequire(import.meta.url).resolve('@agent-records/cli')),
  'bin.js',
);
const started = Date.now();

const heading = (text) => console.log(`\n\x1b[1m== ${text}\x1b[0m`);
const show = (value) => JSON.stringify(value);

rmSync(workDir, { recursive: true, force: true });
mkdirSync(workDir, { recursive: true });
const log = path.join(workDir, 'session.jsonl');

try {
  heading('1. A live agent logs a session, then is killed with SIGKILL mid-write');
  const child = spawn(process.execPath, [path.join(here, 'live-agent.mjs'), log], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const states = [];
  await new Promise((resolve, reject) => {
    let buffered = '';
    child.stdout.setEncoding('utf8').on('data', (text) => {
      buffered += text;
      const lines = buffered.split('\n');
      buffered = lines.pop();
      for (const line of lines) {
        if (line.startsWith('STATE ')) states.push(JSON.parse(line.slice(6)));
        if (line === 'WRITING') {
          // Let it write for a moment, then pull the plug.
          setTimeout(() => {
            child.kill('SIGKILL');
            resolve();
          }, 30);
        }
      }
    });
    child.on('exit', (code, signal) => {
      if (signal !== 'SIGKILL') reject(new Error(`the live agent exited early (${code})`));
    });
  });
  await new Promise((resolve) => child.on('close', resolve));
  const before = states.at(-1);
  console.log(
    `the agent ran ${states.length} scripted steps, flushing after each, and was killed while logging a burst of tool output`,
  );

  heading('2. A fresh agent replays the log');
  // The agent's one onError hears what the backend recovered from (a torn tail cut and kept
  // aside, a stale lock taken over): the core subscribes it to the backend's reports.
  const persistence = new FileSystemAgentRecordPersistence(log);
  const resumed = new DemoAgent(persistence, {
    onError: (error, info) =>
      console.log(`  [${info.kind}] ${error.message.replaceAll(workDir, '.demo')}`),
  });
  const result = await resumed.records.replay();
  const after = resumed.state;
  console.log(`replay(): ${show(result)}`);
  const rows = [
    ['config', show(before.config), show(after.config)],
    ['tools', show(before.tools), show(after.tools)],
    ['turns', String(before.turns), String(after.turns)],
    [
      'usage',
      `${before.usage.input_tokens} in / ${before.usage.output_tokens} out`,
      `${after.usage.input_tokens} in / ${after.usage.output_tokens} out`,
    ],
    ['messages', String(before.messages.length), String(after.messages.length)],
  ];
  console.log(
    `${'field'.padEnd(10)}${'last durable state before the crash'.padEnd(48)}rebuilt from the log`,
  );
  for (const [field, left, right] of rows)
    console.log(`${field.padEnd(10)}${left.padEnd(48)}${right}`);
  const prefixSame =
    show(after.messages.slice(0, before.messages.length)) === show(before.messages);
  const sameElse = show({ ...after, messages: [] }) === show({ ...before, messages: [] });
  const extra = after.messages.length - before.messages.length;
  if (!prefixSame || !sameElse || extra < 0)
    throw new Error('the rebuilt state lost something that was durable');
  console.log(
    `every record whose flush() had resolved is back; ${extra} tool messages logged after the last flush also reached the disk before the kill`,
  );
  resumed.prompt('t3', 'Where were we?');
  await resumed.records.close();
  console.log('the resumed agent logged a new turn and closed cleanly');

  heading('3. agent-records inspect and validate on the log');
  for (const command of ['inspect', 'validate']) {
    const run = spawnSync(process.execPath, [cli, command, log], { encoding: 'utf8' });
    console.log(
      `$ agent-records ${command} ${path.relative(process.cwd(), log)}  (exit ${run.status})`,
    );
    const text = `${run.stdout}${run.stderr}`.trimEnd();
    console.log(text.replaceAll(workDir, '.demo'));
  }

  heading('4. An old-version log is migrated on replay');
  const oldLog = path.join(workDir, 'old-session.jsonl');
  writeFileSync(
    oldLog,
    `${[
      { type: 'metadata', protocol_version: '1.0', created_at: Date.now() - 86_400_000 },
      {
        type: 'turn.prompt',
        turn_id: 'a1',
        text: 'Prompts were called text in 1.0',
        time: Date.now() - 86_000_000,
      },
      {
        type: 'usage.record',
        model: 'demo-model',
        input_tokens: 900,
        output_tokens: 30,
        time: Date.now() - 85_000_000,
      },
    ]
      .map((r) => JSON.stringify(r))
      .join('\n')}\n`,
    { mode: 0o600 },
  );
  const firstLines = (file) => readFileSync(file, 'utf8').split('\n').slice(0, 2).join('\n   ');
  console.log(`before: ${firstLines(oldLog)}`);
  const migrating = new DemoAgent(new FileSystemAgentRecordPersistence(oldLog));
  const migrated = await migrating.records.replay();
  await migrating.records.close();
  console.log(`replay(): ${show(migrated)}`);
  console.log(`state:  ${show(migrating.state.messages)}`);
  console.log(`after:  ${firstLines(oldLog)}`);

  console.log(
    `\ndone in ${((Date.now() - started) / 1000).toFixed(1)} s${keep ? `; files kept in ${workDir}` : ''}`,
  );
} finally {
  if (!keep) rmSync(workDir, { recursive: true, force: true });
}
