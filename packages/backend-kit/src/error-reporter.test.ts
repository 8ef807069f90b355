import type { RecordsErrorInfo } from '@agent-records/types';
import { describe, expect, it } from 'vitest';
import { ErrorReporter } from './error-reporter.js';
import { WriterLoop } from './writer-loop.js';

type Heard = Array<[string, RecordsErrorInfo['kind'], string]>;

function listener(heard: Heard, who: string) {
  return (error: Error, info: RecordsErrorInfo) => heard.push([who, info.kind, error.message]);
}

describe('ErrorReporter', () => {
  it('a subscribed handler replaces the fallback printer', () => {
    const heard: Heard = [];
    const reporter = new ErrorReporter({ fallback: listener(heard, 'fallback') });
    reporter.report(new Error('one'), { kind: 'warning' });
    reporter.setErrorHandler(listener(heard, 'core'));
    reporter.report(new Error('two'), { kind: 'write-failed' });
    reporter.setErrorHandler(null);
    reporter.report(new Error('three'), { kind: 'warning' });
    expect(heard).toEqual([
      ['fallback', 'warning', 'one'],
      ['core', 'write-failed', 'two'],
      ['fallback', 'warning', 'three'],
    ]);
  });

  it("the backend's own onError keeps hearing when a handler is subscribed: both hear, own first", () => {
    const heard: Heard = [];
    const reporter = new ErrorReporter({
      onError: listener(heard, 'own'),
      fallback: listener(heard, 'fallback'),
    });
    reporter.setErrorHandler(listener(heard, 'core'));
    reporter.report(new Error('x'), { kind: 'warning' });
    expect(heard).toEqual([
      ['own', 'warning', 'x'],
      ['core', 'warning', 'x'],
    ]);
  });

  it('a handler that throws never escapes report, and the next handler still hears', () => {
    const heard: Heard = [];
    const reporter = new ErrorReporter({
      onError: () => {
        throw new Error('handler bug');
      },
    });
    reporter.setErrorHandler(listener(heard, 'core'));
    expect(() => reporter.report(new Error('x'), { kind: 'warning' })).not.toThrow();
    expect(heard).toEqual([['core', 'warning', 'x']]);
  });

  it("a writer loop's failure episode reaches the subscribed handler instead of its default", async () => {
    const heard: Heard = [];
    let fail = true;
    const loop: WriterLoop = new WriterLoop(listener(heard, 'default'), async () => {
      if (fail) loop.fail(new Error('EIO'), (cause) => `write failed: ${cause.message}`);
      else loop.complete(loop.outstanding);
    });
    loop.setErrorHandler(listener(heard, 'core'));
    loop.enqueue();
    await expect(loop.waitForAll()).rejects.toThrow(/write failed: EIO/);
    fail = false;
    await loop.waitForAll();
    expect(heard).toEqual([
      ['core', 'write-failed', 'EIO'],
      ['core', 'write-recovered', 'EIO'],
    ]);
    expect(loop.errors.subscribed).not.toBeNull();
  });
});
