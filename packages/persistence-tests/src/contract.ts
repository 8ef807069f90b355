import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import {
  type AgentRecordEnvelope,
  type AgentRecordPersistence,
  RecordsClosedError,
  type RecordsErrorHandler,
  type RecordsErrorInfo,
  RecordsSerializeError,
  RecordsWriteError,
} from '@agent-records/types';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  type PersistenceCapability,
  probeCapabilities,
  registerClaimTest,
} from './capabilities.js';
import { registerCapabilityExamples } from './contract-capabilities.js';
import { registerExampleTests } from './contract-examples.js';

/** Options the suite passes when it opens a persistence. */
export interface ContractOpenOptions {
  onError?: RecordsErrorHandler;
}

/** A controllable write failure, returned by {@link PersistenceContractSubject.injectWriteFault}. */
export interface InjectedWriteFault {
  /** Lets writes succeed again. */
  clear(): void | Promise<void>;
}

/** One empty log for one test, as a backend under test provides it. */
export interface PersistenceContractSubject {
  /**
   * Opens a persistence on this subject's log. The suite closes one before it opens the next,
   * so single-writer backends need not special-case it.
   */
  open(options?: ContractOpenOptions): AgentRecordPersistence<AgentRecordEnvelope>;
  /**
   * Optional: opens another persistence on the same log, only to read it, while the one `open`
   * returned is still open (a second reader of the same file or table). Provide it to run the
   * tests that check what has reached the store, such as background writes draining without a
   * flush. The suite closes it after reading and never writes through it.
   */
  openReader?(): AgentRecordPersistence<AgentRecordEnvelope>;
  /**
   * Optional fault hook: from now on, writes of `persistence` fail until `clear()`, with `error`
   * where the backend can inject it, or with a real fault of its own (a database constraint, a
   * full disk). Provide it to run the failure-episode tests.
   */
  injectWriteFault?(
    persistence: AgentRecordPersistence<AgentRecordEnvelope>,
    error: Error,
  ): InjectedWriteFault | Promise<InjectedWriteFault>;
  /** Removes whatever the subject created. */
  cleanup?(): void | Promise<void>;
}

export interface PersistenceContractOptions {
  /** Records in the streaming test (default 100,000). */
  largeLogRecords?: number;
  /** Per-test timeout for the slow tests, in ms (default 120,000). */
  slowTimeout?: number;
  /**
   * The optional capabilities the backend claims. Each one's tests are registered when the
   * backend offers it (found by opening one persistence while the tests are collected); one
   * claimed here is tested whether found or not, and a test fails naming what is missing.
   */
  expectCapabilities?: readonly PersistenceCapability[];
}

type Rec = AgentRecordEnvelope & { n?: number; text?: string; nested?: unknown };

async function readAll(persistence: AgentRecordPersistence<AgentRecordEnvelope>): Promise<Rec[]> {
  const out: Rec[] = [];
  for await (const record of persistence.read()) out.push(record as Rec);
  return out;
}

function numbered(count: number, start = 0): Rec[] {
  return Array.from({ length: count }, (_, i) => ({ type: 'test.record', n: start + i }));
}

let collectGarbage: (() => void) | undefined;
/** Live heap after a full collection, so garbage awaiting collection does not count. */
function heapUsed(): number {
  if (!collectGarbage) {
    // Works without --expose-gc: turn the flag on, then fetch gc from a fresh context.
    setFlagsFromString('--expose-gc');
    collectGarbage = runInNewContext('gc') as () => void;
  }
  collectGarbage();
  return process.memoryUsage().heapUsed;
}

/**
 * Registers the persistence contract tests (vitest) for one backend. `factory` is called once
 * per test and returns a fresh, empty log.
 *
 * ```ts
 * describePersistenceContract('my backend', () => {
 *   const store = new MyStore();
 *   return { open: (options) => store.open('session', options), cleanup: () => store.drop() };
 * });
 * ```
 */
export function describePersistenceContract(
  name: string,
  factory: () => PersistenceContractSubject | Promise<PersistenceContractSubject>,
  options: PersistenceContractOptions = {},
): void {
  const largeLogRecords = options.largeLogRecords ?? 100_000;
  const slowTimeout = options.slowTimeout ?? 120_000;

  describe(`persistence contract: ${name}`, async () => {
    // Which optional capabilities to test: those the backend has, and those it claims.
    const found = await probeCapabilities(factory);
    const capabilities = new Set([...found, ...(options.expectCapabilities ?? [])]);
    registerClaimTest(found, options.expectCapabilities);

    let subject: PersistenceContractSubject;
    const opened: AgentRecordPersistence<AgentRecordEnvelope>[] = [];
    const open = (openOptions?: ContractOpenOptions) => {
      const persistence = subject.open(openOptions);
      opened.push(persistence);
      return persistence;
    };
    const reopen = async (previous: AgentRecordPersistence<AgentRecordEnvelope>) => {
      await previous.close();
      return open();
    };

    beforeEach(async () => {
      subject = await factory();
    });
    afterEach(async () => {
      for (const persistence of opened.splice(0)) await persistence.close().catch(() => {});
      await subject.cleanup?.();
    });

    it('reads a log that was never written as empty', async () => {
      expect(await readAll(open())).toEqual([]);
    });

    it('append returns at once, without a promise', () => {
      const persistence = open();
      const result = persistence.append({ type: 'test.record', n: 0 } as Rec) as unknown;
      expect(result).toBeUndefined();
    });

    it('preserves append order, durably across reopen', async () => {
      const persistence = open();
      const records = numbered(500);
      for (const record of records) persistence.append(record);
      await persistence.flush();
      expect(await readAll(persistence)).toEqual(records);
      expect(await readAll(await reopen(persistence))).toEqual(records);
    });

    it('reads pending records after append, before flush', async () => {
      const persistence = open();
      persistence.append({ type: 'test.record', n: 1 } as Rec);
      persistence.append({ type: 'test.record', n: 2 } as Rec);
      expect((await readAll(persistence)).map((r) => r.n)).toEqual([1, 2]);
      await persistence.flush();
      persistence.append({ type: 'test.record', n: 3 } as Rec);
      expect((await readAll(persistence)).map((r) => r.n)).toEqual([1, 2, 3]);
    });

    it('keeps JSON content exactly, including line separators and unicode', async () => {
      const persistence = open();
      const record = {
        type: 'test.text',
        text: 'line\nbreak \u2028 sep \u2029 para "quoted" \\ back é 😀 \u0000',
        nested: { list: [1, 2.5, null, true, { deep: 'x' }], empty: {} },
      };
      persistence.append(record as Rec);
      await persistence.flush();
      expect(await readAll(await reopen(persistence))).toEqual([record]);
    });

    it('snapshots the record at append time', async () => {
      const persistence = open();
      const record = { type: 'test.mutable', nested: { value: 'before' } };
      persistence.append(record as Rec);
      record.nested.value = 'after';
      record.type = 'test.changed';
      await persistence.flush();
      expect(await readAll(persistence)).toEqual([
        { type: 'test.mutable', nested: { value: 'before' } },
      ]);
    });

    it('refuses an unserialisable record with RecordsSerializeError and keeps the rest', async () => {
      const persistence = open();
      persistence.append({ type: 'test.record', n: 1 } as Rec);
      const cyclic: Record<string, unknown> = { type: 'test.cycle' };
      cyclic.self = cyclic;
      expect(() => persistence.append(cyclic as unknown as Rec)).toThrow(RecordsSerializeError);
      expect(() => persistence.append({ type: 'test.big', n: 10n } as unknown as Rec)).toThrow(
        RecordsSerializeError,
      );
      persistence.append({ type: 'test.record', n: 2 } as Rec);
      await persistence.flush();
      expect((await readAll(await reopen(persistence))).map((r) => r.n)).toEqual([1, 2]);
    });

    it('rewrite replaces everything; later appends follow the new log', async () => {
      const persistence = open();
      for (const record of numbered(50)) persistence.append(record);
      await persistence.flush();
      const replacement = numbered(3, 1000);
      persistence.rewrite(replacement);
      expect(await readAll(persistence)).toEqual(replacement);
      persistence.append({ type: 'test.record', n: 2000 } as Rec);
      await persistence.flush();
      const expected = [...replacement, { type: 'test.record', n: 2000 }];
      expect(await readAll(persistence)).toEqual(expected);
      expect(await readAll(await reopen(persistence))).toEqual(expected);
    });

    it('rewrite with no records leaves an empty log', async () => {
      const persistence = open();
      for (const record of numbered(5)) persistence.append(record);
      await persistence.flush();
      persistence.rewrite([]);
      await persistence.flush();
      expect(await readAll(await reopen(persistence))).toEqual([]);
    });

    it('rewrite after pending appends replaces them too', async () => {
      const persistence = open();
      for (const record of numbered(5)) persistence.append(record);
      persistence.rewrite(numbered(2, 100));
      await persistence.flush();
      expect((await readAll(await reopen(persistence))).map((r) => r.n)).toEqual([100, 101]);
    });

    it('flush and close are idempotent', async () => {
      const persistence = open();
      await persistence.flush();
      persistence.append({ type: 'test.record', n: 1 } as Rec);
      await Promise.all([persistence.flush(), persistence.flush()]);
      await persistence.flush();
      await Promise.all([persistence.close(), persistence.close()]);
      await persistence.close();
      expect((await readAll(open())).map((r) => r.n)).toEqual([1]);
    });

    it('close flushes what is pending', async () => {
      const persistence = open();
      for (const record of numbered(20)) persistence.append(record);
      await persistence.close();
      expect(await readAll(open())).toEqual(numbered(20));
    });

    it('append and rewrite after close throw RecordsClosedError', async () => {
      const persistence = open();
      await persistence.close();
      expect(() => persistence.append({ type: 'test.record' })).toThrow(RecordsClosedError);
      expect(() => persistence.rewrite([])).toThrow(RecordsClosedError);
    });

    it(
      `streams a log of ${largeLogRecords} records in order without materialising it`,
      async () => {
        const padding = 'x'.repeat(400);
        let persistence = open();
        for (let i = 0; i < largeLogRecords; i++) {
          persistence.append({ type: 'test.large', n: i, text: padding } as Rec);
          if (i % 10_000 === 9_999) await persistence.flush();
        }
        await persistence.flush();
        persistence = await reopen(persistence);
        const logBytes = largeLogRecords * (padding.length + 40);

        const before = heapUsed();
        let peak = 0;
        let expected = 0;
        const sampleEvery = Math.max(1, Math.floor(largeLogRecords / 10));
        for await (const record of persistence.read()) {
          if ((record as Rec).n !== expected) {
            throw new Error(`record ${expected} out of order: got n=${(record as Rec).n}`);
          }
          expected++;
          if (expected % sampleEvery === 0) peak = Math.max(peak, heapUsed() - before);
        }
        expect(expected).toBe(largeLogRecords);
        // A reader that holds every record keeps well over the log's size alive.
        expect(peak).toBeLessThan(logBytes / 4);
      },
      slowTimeout,
    );

    it('stops cleanly when the reader breaks off early', async () => {
      const persistence = open();
      for (const record of numbered(1000)) persistence.append(record);
      await persistence.flush();
      let seen = 0;
      for await (const _ of persistence.read()) {
        if (++seen === 10) break;
      }
      expect(seen).toBe(10);
      expect(await readAll(persistence)).toHaveLength(1000);
    });

    registerExampleTests({ subject: () => subject, open, reopen });
    registerCapabilityExamples({ subject: () => subject, open, reopen }, capabilities);

    describe('failure episodes', () => {
      const withFaults = () => {
        if (!subject.injectWriteFault) return undefined;
        return subject.injectWriteFault.bind(subject);
      };

      it('latches a failed write: flush rejects, retries, then every record lands once, in order', async (context) => {
        const inject = withFaults();
        if (!inject) {
          context.skip('the factory provides no injectWriteFault hook');
          return;
        }
        const reports: Array<{ error: Error; info: RecordsErrorInfo }> = [];
        const persistence = open({ onError: (error, info) => reports.push({ error, info }) });
        for (const record of numbered(10)) persistence.append(record);
        await persistence.flush();

        const injected = Object.assign(new Error('no space left on device'), { code: 'ENOSPC' });
        const fault = await inject(persistence, injected);
        for (const record of numbered(1000, 10)) persistence.append(record);
        for (let attempt = 0; attempt < 3; attempt++) {
          const failure = await persistence.flush().then(
            () => undefined,
            (error: unknown) => error,
          );
          expect(failure).toBeInstanceOf(RecordsWriteError);
          expect((failure as RecordsWriteError).cause).toBeInstanceOf(Error);
        }
        // Records logged during the episode queue behind the failed ones.
        for (const record of numbered(1000, 1010)) persistence.append(record);
        expect((await readAll(persistence)).map((r) => r.n)).toEqual(
          numbered(2010).map((r) => r.n),
        );

        await fault.clear();
        await persistence.flush();
        const failed = reports.filter((r) => r.info.kind === 'write-failed');
        expect(failed).toHaveLength(1);
        // A hook that can fail writes with the given error should; a real fault (a database
        // constraint, a full disk) fails with its own. Either way it is what onError heard.
        expect(failed[0]?.error).toBeInstanceOf(Error);
        expect(reports.filter((r) => r.info.kind === 'write-recovered')).toHaveLength(1);

        expect(await readAll(await reopen(persistence))).toEqual(numbered(2010));
      });

      it('keeps a failed rewrite queued and applies it once writes work again', async (context) => {
        const inject = withFaults();
        if (!inject) {
          context.skip('the factory provides no injectWriteFault hook');
          return;
        }
        const persistence = open({ onError: () => {} });
        for (const record of numbered(10)) persistence.append(record);
        await persistence.flush();
        const fault = await inject(persistence, new Error('EIO'));
        persistence.rewrite(numbered(3, 500));
        persistence.append({ type: 'test.record', n: 900 } as Rec);
        await expect(persistence.flush()).rejects.toBeInstanceOf(RecordsWriteError);
        await fault.clear();
        await persistence.flush();
        expect((await readAll(await reopen(persistence))).map((r) => r.n)).toEqual([
          500, 501, 502, 900,
        ]);
      });

      it('close during an episode rejects and keeps the records for a later retry', async (context) => {
        const inject = withFaults();
        if (!inject) {
          context.skip('the factory provides no injectWriteFault hook');
          return;
        }
        const persistence = open({ onError: () => {} });
        const fault = await inject(persistence, new Error('EIO'));
        persistence.append({ type: 'test.record', n: 1 } as Rec);
        await expect(persistence.close()).rejects.toBeInstanceOf(RecordsWriteError);
        await fault.clear();
        await persistence.close();
        expect((await readAll(open())).map((r) => r.n)).toEqual([1]);
      });
    });
  });
}
