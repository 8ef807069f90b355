import { RecordsOverflowError } from '@agent-records/types';
import { describe, expect, it } from 'vitest';
import { PendingBytes, utf8ByteLength } from './pending-bytes.js';

describe('utf8ByteLength', () => {
  it.each(['', 'abc', 'é', '€', '😀', 'a😀é€\n', '\ud800', '\udc00x', 'x\ud83d'])(
    'counts %j as Buffer.byteLength does',
    (text) => {
      expect(utf8ByteLength(text)).toBe(Buffer.byteLength(text, 'utf8'));
    },
  );
});

describe('PendingBytes', () => {
  it('reports a burst of dropped records once, counting them', () => {
    const bound = new PendingBytes();
    bound.add(90);
    for (let i = 0; i < 81; i++) {
      expect(() => bound.admit(20, 100)).toThrow(RecordsOverflowError);
    }
    const report = bound.takeOverflow();
    expect(report).toBeInstanceOf(RecordsOverflowError);
    expect(report?.dropped).toBe(81);
    expect(report?.message).toMatch(/81 records were dropped/);
    expect(bound.takeOverflow()).toBeNull();
    bound.release(90);
    expect(() => bound.admit(20, 100)).not.toThrow();
  });

  it('puts back a report a flush could not deliver', () => {
    const bound = new PendingBytes();
    expect(() => bound.admit(200, 100)).toThrow(RecordsOverflowError);
    const report = bound.takeOverflow() as RecordsOverflowError;
    bound.restoreOverflow(report);
    expect(() => bound.admit(200, 100)).toThrow(RecordsOverflowError);
    expect(bound.takeOverflow()?.dropped).toBe(2);
  });

  it('counts drops another layer saw as one burst, started once', () => {
    const bound = new PendingBytes();
    const refusal = new RecordsOverflowError(120, 100);
    expect(bound.noteDropped(refusal)).toBe(true);
    expect(bound.noteDropped(refusal)).toBe(false);
    expect(bound.takeOverflow()).toMatchObject({ dropped: 2, pendingBytes: 120 });
    expect(bound.noteDropped(refusal)).toBe(true);
  });
});
