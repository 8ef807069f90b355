// The live agent, run as a child process so the demo can kill it with SIGKILL. After each
// scripted step it flushes and prints its state: what is durable at that point.
import { FileSystemAgentRecordPersistence } from '@agent-records/fs-persistence';
import { DemoAgent, SCRIPT } from './agent.mjs';

const [file] = process.argv.slice(2);
const agent = new DemoAgent(new FileSystemAgentRecordPersistence(file));
await agent.records.replay();
for (const step of SCRIPT) {
  step(agent);
  await agent.records.flush();
  process.stdout.write(`STATE ${JSON.stringify(agent.state)}\n`);
}
// Then a burst of large tool output, logged without waiting: the parent kills us mid-write.
process.stdout.write('WRITING\n');
for (let i = 0; ; i++) {
  agent.say('tool', [{ type: 'text', text: `chunk ${i} ${'x'.repeat(20_000)}` }]);
  if (i % 50 === 49) await new Promise((resolve) => setImmediate(resolve));
}
