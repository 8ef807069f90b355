import { describe, expect, it } from 'vitest';
import {
  AgentRecordsError,
  isAgentRecordsError,
  RecordsClosedError,
  RecordsConflictError,
  RecordsCorruptError,
  RecordsInvalidError,
  RecordsLockedError,
  RecordsOverflowError,
  RecordsReplayError,
  RecordsSerializeError,
  RecordsVersionError,
  RecordsWriteError,
} from './errors.js';

describe('error classes', () => {
  const cases = [
    [new RecordsWriteError('w'), RecordsWriteError, 'RECORDS_WRITE_FAILED'],
    [
      new RecordsCorruptError({ file: 'a.jsonl', line: 3, offset: 10, reason: 'bad' }),
      RecordsCorruptError,
      'RECORDS_CORRUPT',
    ],
    [new RecordsClosedError(), RecordsClosedError, 'RECORDS_CLOSED'],
    [new RecordsLockedError('l'), RecordsLockedError, 'RECORDS_LOCKED'],
    [new RecordsOverflowError(10, 5), RecordsOverflowError, 'RECORDS_OVERFLOW'],
    [new RecordsVersionError('v'), RecordsVersionError, 'RECORDS_VERSION'],
    [new RecordsConflictError('c'), RecordsConflictError, 'RECORDS_CONFLICT'],
    [new RecordsSerializeError('x'), RecordsSerializeError, 'RECORDS_SERIALIZE'],
    [new RecordsInvalidError(undefined, 'no type'), RecordsInvalidError, 'RECORDS_INVALID'],
    [
      new RecordsReplayError(
        { position: 3, recordType: 'x', stage: 'restore' },
        { cause: new Error('bad') },
      ),
      RecordsReplayError,
      'RECORDS_REPLAY',
    ],
  ] as const;

  it.each(cases)('%s has its code, name and base class', (error, Class, code) => {
    expect(error.code).toBe(code);
    expect(error.name).toBe(Class.name);
    expect(error).toBeInstanceOf(Class);
    expect(error).toBeInstanceOf(AgentRecordsError);
    expect(error).toBeInstanceOf(Error);
    expect(isAgentRecordsError(error, code)).toBe(true);
  });

  it('does not match a sibling class', () => {
    expect(new RecordsWriteError('w')).not.toBeInstanceOf(RecordsClosedError);
    expect(isAgentRecordsError(new RecordsWriteError('w'), 'RECORDS_CLOSED')).toBe(false);
    expect(isAgentRecordsError(new Error('plain'))).toBe(false);
    expect(new Error('plain')).not.toBeInstanceOf(AgentRecordsError);
  });

  it('keeps the cause', () => {
    const cause = Object.assign(new Error('no space'), { code: 'ENOSPC' });
    expect(new RecordsWriteError('failed', { cause }).cause).toBe(cause);
  });

  it('names file, line and offset in a corrupt error and points at repair', () => {
    const error = new RecordsCorruptError({
      file: '/x/s.jsonl',
      line: 7,
      offset: 812,
      reason: 'not valid JSON',
    });
    expect(error).toMatchObject({ file: '/x/s.jsonl', line: 7, offset: 812 });
    expect(error.message).toContain('/x/s.jsonl:7:812');
    expect(error.message).toContain('agent-records repair');
  });

  it('names the record type or its absence', () => {
    expect(new RecordsInvalidError('turn.prompt', 'time is NaN').message).toContain(
      '"turn.prompt"',
    );
    expect(new RecordsInvalidError(undefined, 'no type').message).toContain('without a type');
    expect(new RecordsSerializeError('x', { cause: new TypeError('cyclic') }).message).toContain(
      'cyclic',
    );
  });

  it('recognises an error from another copy of the package by its brand', () => {
    // Simulates the dual-package hazard: a class with the same brand from a second copy.
    class OtherCopyWriteError extends Error {
      readonly code = 'RECORDS_WRITE_FAILED';
    }
    const foreign = new OtherCopyWriteError('elsewhere');
    Object.defineProperty(foreign, Symbol.for('@agent-records/error'), { value: true });
    expect(foreign).toBeInstanceOf(RecordsWriteError);
    expect(foreign).toBeInstanceOf(AgentRecordsError);
    expect(foreign).not.toBeInstanceOf(RecordsClosedError);
  });
});

describe('RecordsReplayError', () => {
  it('names the record position, type, step and cause, and what to do', () => {
    const cause = new TypeError('state.items is undefined');
    const error = new RecordsReplayError(
      { position: 12, recordType: 'turn.prompt', stage: 'migrate', migration: '1.0 -> 1.1' },
      { cause },
    );
    expect(error).toMatchObject({
      position: 12,
      recordType: 'turn.prompt',
      stage: 'migrate',
      cause,
    });
    expect(error.message).toContain('record #12');
    expect(error.message).toContain('"turn.prompt"');
    expect(error.message).toContain('migration 1.0 -> 1.1 threw (state.items is undefined)');
    const inFile = new RecordsReplayError(
      { position: 2, recordType: 'x', stage: 'restore', file: '/l/s.jsonl', line: 2 },
      { cause },
    );
    expect(inFile.message).toContain('(/l/s.jsonl:2)');
    expect(inFile.message).toContain('restore function threw');
  });
});
