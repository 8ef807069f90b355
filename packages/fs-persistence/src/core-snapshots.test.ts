// The core's snapshots on real files, end to end: resume from the snapshot beside the log,
// replaying only the tail; after a rewrite, a full replay (the old snapshot was removed).
import { AgentRecords } from '@agent-records/core';
import type { AgentRecord, RecordsErrorInfo } from '@agent-records/types';
import { describe, expect, it } from 'vitest';
import { useTempDir } from '../test/temp-dir.js';
import { FileSystemAgentRecordStore } from './store.js';

const temp = useTempDir('fs-core-snapshots-');

function openAgent(store: FileSystemAgentRecordStore, warnings: string[]) {
  let state = { prompts: [] as string[] };
  let replayed = 0;
  const records = new AgentRecords<AgentRecord>({
    persistence: store.open('s'),
    protocolVersion: '1.0',
    onError: (error: Error, info: RecordsErrorInfo) =>
      warnings.push(`${info.kind}: ${error.message}`),
    restore: (record) => {
      replayed++;
      if (record.type === 'turn.prompt')
        state = { prompts: [...state.prompts, String(record.content)] };
    },
    snapshots: {
      take: () => state,
      restore: (saved) => {
        state = saved as typeof state;
      },
      version: 1,
    },
  });
  const prompt = (content: string) => {
    records.logRecord({ type: 'turn.prompt', turn_id: 't1', content });
    state = { prompts: [...state.prompts, content] };
  };
  return { records, prompt, prompts: () => state.prompts, replayed: () => replayed };
}

describe('AgentRecords snapshots on the file backend', () => {
  it('resumes from the snapshot and replays only the records after it; a rewrite makes it unusable', async () => {
    const store = new FileSystemAgentRecordStore(temp.dir);
    const warnings: string[] = [];
    const first = openAgent(store, warnings);
    await first.records.replay();
    for (let i = 0; i < 50; i++) first.prompt(`p${i}`);
    first.records.snapshot();
    for (let i = 50; i < 53; i++) first.prompt(`p${i}`);
    first.records.setTitle('Fifty-three prompts');
    await first.records.close();

    const resumed = openAgent(store, warnings);
    const result = await resumed.records.replay();
    expect(result.fromSnapshot?.records).toBe(51); // the metadata record and 50 prompts
    expect(resumed.replayed()).toBe(3);
    expect(resumed.prompts()).toEqual(Array.from({ length: 53 }, (_, i) => `p${i}`));
    expect((await store.list())[0]).toMatchObject({
      id: 's',
      records: 54,
      title: 'Fifty-three prompts',
    });
    await resumed.records.close();

    // Another tool rewrites the log (same records): the snapshot beside it is gone.
    const raw = store.open('s');
    const all: AgentRecord[] = [];
    for await (const record of raw.read()) all.push(record);
    raw.rewrite(all);
    await raw.close();
    const full = openAgent(store, warnings);
    const again = await full.records.replay();
    expect(again.fromSnapshot).toBeUndefined();
    expect(full.replayed()).toBe(54);
    expect(full.prompts()).toHaveLength(53);
    await full.records.close();
    expect(warnings).toEqual([]);
  });
  it('a host that mutates nested state after logRecord, take() a shallow copy, resumes equal to the live one', async () => {
    // The red team's pattern (logRecord, then push into a shared array; take() copies only the
    // top level): a snapshot must hold the state as of the call that took it.
    const open = () => {
      const state = { messages: [] as string[] };
      const records = new AgentRecords<AgentRecord>({
        persistence: new FileSystemAgentRecordStore(temp.dir).open('mutating'),
        protocolVersion: '1.0',
        restore: (record) => {
          if (record.type === 'turn.prompt') state.messages.push(String(record.content));
        },
        snapshots: {
          take: () => ({ ...state }),
          restore: (saved) => {
            state.messages = [...(saved as typeof state).messages];
          },
          version: 1,
          everyRecords: 10,
        },
      });
      return { records, state };
    };
    const live = open();
    await live.records.replay();
    for (let i = 0; i < 25; i++) {
      live.records.logRecord({ type: 'turn.prompt', turn_id: 't', content: `m${i}` });
      live.state.messages.push(`m${i}`);
    }
    await live.records.close();

    const resumed = open();
    const result = await resumed.records.replay();
    expect(result.fromSnapshot).toBeDefined();
    expect(resumed.state.messages).toEqual(live.state.messages);
    await resumed.records.close();
  });
});
