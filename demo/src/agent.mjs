// A small scripted agent: no network, no model. Every state change is logged just before it is
// applied, and the same handlers rebuild the state on replay.
import { AgentRecords, createRestore } from '@agent-records/core';

export const PROTOCOL_VERSION = '1.1';

/** Version 1.0 logged prompts as `{ text }`; 1.1 logs `{ content }`. */
export const migrations = [
  {
    sourceVersion: '1.0',
    targetVersion: '1.1',
    migrateRecord: (record) => {
      if (record.type !== 'turn.prompt' || !('text' in record)) return record;
      const { text, ...rest } = record;
      return { ...rest, content: text };
    },
  },
];

export class DemoAgent {
  state = {
    config: {},
    tools: [],
    turns: 0,
    messages: [],
    usage: { input_tokens: 0, output_tokens: 0 },
  };

  constructor(persistence, { onError } = {}) {
    const apply = {
      'config.update': (r) => Object.assign(this.state.config, r.changes),
      'tools.register_user_tool': (r) => this.state.tools.push(r.tool.name),
      'turn.prompt': (r) => {
        this.state.turns++;
        this.state.messages.push(`user: ${r.content}`);
      },
      'context.append_message': (r) => {
        const text = r.message.content
          .map((p) => (p.type === 'text' ? p.text : `[${p.type}]`))
          .join(' ');
        this.state.messages.push(`${r.message.role}: ${text.slice(0, 60)}`);
      },
      'usage.record': (r) => {
        this.state.usage.input_tokens += r.input_tokens;
        this.state.usage.output_tokens += r.output_tokens;
      },
    };
    this.apply = apply;
    this.records = new AgentRecords({
      persistence,
      protocolVersion: PROTOCOL_VERSION,
      migrations,
      restore: createRestore(apply),
      // One handler for the session: the core subscribes it to the backend's reports too.
      onError:
        onError ??
        ((error, info) => console.error(`  [agent-records ${info.kind}] ${error.message}`)),
    });
  }

  /** Logs a record, then applies it to live state: the order the library is built for. */
  #do(record) {
    this.records.logRecord(record);
    this.apply[record.type]?.(record);
  }

  configure(changes) {
    this.#do({ type: 'config.update', changes });
  }
  registerTool(name, description) {
    this.#do({ type: 'tools.register_user_tool', tool: { name, description } });
  }
  prompt(turnId, content) {
    this.#do({ type: 'turn.prompt', turn_id: turnId, content });
  }
  say(role, parts) {
    this.#do({ type: 'context.append_message', message: { role, content: parts } });
  }
  usage(input, output) {
    this.#do({
      type: 'usage.record',
      model: 'demo-model',
      input_tokens: input,
      output_tokens: output,
    });
  }
}

/** The scripted session: a few turns with tool calls and usage. */
export const SCRIPT = [
  (a) => a.configure({ model: 'demo-model', temperature: 0.2 }),
  (a) => a.registerTool('read_file', 'Reads a file from the workspace'),
  (a) => a.prompt('t1', 'Summarise README.md'),
  (a) =>
    a.say('assistant', [
      { type: 'tool_call', id: 'c1', name: 'read_file', input: { path: 'README.md' } },
    ]),
  (a) =>
    a.say('tool', [{ type: 'text', text: '# agent-records: a durable, replayable event log...' }]),
  (a) =>
    a.say('assistant', [{ type: 'text', text: 'It is a library that logs agent state changes.' }]),
  (a) => a.usage(1840, 96),
  (a) => a.prompt('t2', 'Now list its packages'),
  (a) =>
    a.say('assistant', [
      { type: 'text', text: 'types, core, fs-persistence, memory-persistence, cli.' },
    ]),
  (a) => a.usage(2210, 41),
];
