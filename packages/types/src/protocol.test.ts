import { describe, expect, it } from 'vitest';
import { RecordsVersionError } from './errors.js';
import { compareProtocolVersions, parseProtocolVersion } from './protocol.js';

describe('parseProtocolVersion', () => {
  it('parses MAJOR.MINOR', () => {
    expect(parseProtocolVersion('1.0')).toEqual({ major: 1, minor: 0 });
    expect(parseProtocolVersion('2.13')).toEqual({ major: 2, minor: 13 });
    expect(parseProtocolVersion('0.9')).toEqual({ major: 0, minor: 9 });
  });

  it.each([
    '1',
    '1.2.3',
    'v1.0',
    '1.0 ',
    ' 1.0',
    '-1.0',
    '+1.0',
    '1.a',
    '1.',
    '.1',
    '',
    '1e3.0',
    '１.０',
  ])('rejects %j with RecordsVersionError', (bad) => {
    expect(() => parseProtocolVersion(bad)).toThrow(RecordsVersionError);
    expect(() => parseProtocolVersion(bad)).toThrow(/expected "MAJOR\.MINOR"/);
  });

  it('rejects non-strings with a message naming the value', () => {
    expect(() => parseProtocolVersion(1.1 as unknown as string)).toThrow(/1\.1 \(a number/);
    expect(() => parseProtocolVersion(null as unknown as string)).toThrow(RecordsVersionError);
  });

  it('has the stable code', () => {
    try {
      parseProtocolVersion('x');
      expect.unreachable();
    } catch (error) {
      expect((error as RecordsVersionError).code).toBe('RECORDS_VERSION');
    }
  });
});

describe('compareProtocolVersions', () => {
  it('compares numerically, not as strings', () => {
    expect(compareProtocolVersions('1.10', '1.9')).toBeGreaterThan(0);
    expect(compareProtocolVersions('1.9', '1.10')).toBeLessThan(0);
    expect(compareProtocolVersions('10.0', '9.99')).toBeGreaterThan(0);
    expect(compareProtocolVersions('1.2', '1.2')).toBe(0);
    expect(compareProtocolVersions('2.0', '1.99')).toBeGreaterThan(0);
  });

  it('sorts a list', () => {
    const sorted = ['1.10', '1.2', '0.1', '2.0', '1.9'].sort(compareProtocolVersions);
    expect(sorted).toEqual(['0.1', '1.2', '1.9', '1.10', '2.0']);
  });

  it('throws on a malformed side', () => {
    expect(() => compareProtocolVersions('1.0', '1')).toThrow(RecordsVersionError);
  });
});
