import { describe, expect, it } from 'vitest';
import {
  isAgentRecordsError,
  RecordsInvalidError,
  RecordsInvalidSessionIdError,
} from './errors.js';
import { MAX_SESSION_ID_BYTES, sessionIdProblem } from './session-id.js';

describe('sessionIdProblem', () => {
  it.each([
    ['', /empty/],
    ['a/b', /path separator/],
    ['a\\b', /path separator/],
    ['..', /"\.\."/],
    ['a..b', /"\.\."/],
    ['.hidden', /starts with "\."/],
    ['.', /starts with "\."/],
    ['nul\u0000byte', /control character/],
    ['bell\u0007', /control character/],
    ['c1\u0085', /control character/],
    ['lone\ud800', /lone surrogate/],
    ['x'.repeat(MAX_SESSION_ID_BYTES + 1), /176 bytes in UTF-8/],
    ['日'.repeat(59), /177 bytes/],
    [null, /null, not a string/],
    [42, /a number, not a string/],
  ])('refuses %j', (id, reason) => {
    expect(sessionIdProblem(id)).toMatch(reason);
  });

  it('accepts plain names up to the byte bound, counted in UTF-8', () => {
    for (const id of [
      '0b7c2f6e-4a4e-4f7e-9f6e-1d2a3b4c5d6e',
      'my session',
      'a.b',
      'é',
      'x'.repeat(MAX_SESSION_ID_BYTES),
      '日'.repeat(58),
      '😀'.repeat(43),
    ]) {
      expect(sessionIdProblem(id)).toBeNull();
    }
    expect(sessionIdProblem('x'.repeat(20), { maxBytes: 19 })).toMatch(/over the 19 bytes/);
  });
});

describe('RecordsInvalidSessionIdError', () => {
  it('has its own code, is an AgentRecordsError and not a refused record', () => {
    const error = new RecordsInvalidSessionIdError('../x', 'it contains ".."');
    expect(error.code).toBe('RECORDS_INVALID_SESSION_ID');
    expect(error.sessionId).toBe('../x');
    expect(error.message).toContain('"../x"');
    expect(isAgentRecordsError(error, 'RECORDS_INVALID_SESSION_ID')).toBe(true);
    expect(error).toBeInstanceOf(RecordsInvalidSessionIdError);
    expect(error).not.toBeInstanceOf(RecordsInvalidError);
  });
});
