import { InMemoryAgentRecordPersistence } from '@agent-records/memory-persistence';
import type { RecordsErrorInfo } from '@agent-records/types';
import { describe, expect, it } from 'vitest';
import { AgentRecords } from './agent-records.js';

type Rec = { type: string; time?: number; [key: string]: unknown };

async function until(check: () => boolean): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('timed out waiting for a report');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

describe('one error handler', () => {
  it("the core's onError hears the backend's background write failure and its end", async () => {
    const persistence = new InMemoryAgentRecordPersistence<Rec>();
    const heard: Array<[RecordsErrorInfo['kind'], string]> = [];
    const records = new AgentRecords<Rec>({
      persistence,
      protocolVersion: '1.0',
      onError: (error, info) => heard.push([info.kind, error.message]),
    });
    persistence.injectFault({ op: 'append' });
    records.logRecord({ type: 'turn.prompt' });
    // No flush: the backend's writer fails in the background, and the host hears it at once.
    await until(() => heard.length > 0);
    expect(heard).toEqual([['write-failed', 'injected I/O error']]);
    await records.flush();
    expect(heard).toEqual([
      ['write-failed', 'injected I/O error'],
      ['write-recovered', 'injected I/O error'],
    ]);
    expect(persistence.records.map((r) => r.type)).toEqual(['metadata', 'turn.prompt']);
  });

  it("a backend's own onError keeps hearing its reports next to the core's", async () => {
    const own: string[] = [];
    const core: string[] = [];
    const persistence = new InMemoryAgentRecordPersistence<Rec>([], {
      onError: (_error, info) => own.push(info.kind),
    });
    const records = new AgentRecords<Rec>({
      persistence,
      protocolVersion: '1.0',
      onError: (_error, info) => core.push(info.kind),
    });
    persistence.injectFault({ op: 'append' });
    records.logRecord({ type: 'turn.prompt' });
    await until(() => core.length > 0);
    await records.flush();
    expect(own).toEqual(['write-failed', 'write-recovered']);
    expect(core).toEqual(['write-failed', 'write-recovered']);
  });

  it('a persistence whose setErrorHandler throws is still used, and the host hears why', async () => {
    const persistence = new InMemoryAgentRecordPersistence<Rec>();
    const capable = Object.assign(persistence, {
      setErrorHandler: () => {
        throw new Error('not today');
      },
    });
    const heard: string[] = [];
    const records = new AgentRecords<Rec>({
      persistence: capable,
      protocolVersion: '1.0',
      onError: (error) => heard.push(error.message),
    });
    records.logRecord({ type: 'turn.prompt' });
    await records.flush();
    expect(heard).toEqual(['not today']);
    expect(persistence.records).toHaveLength(2);
  });
});
