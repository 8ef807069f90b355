import { describe, expect, it } from 'vitest';
import { modelSeedFromEnv } from './model.js';

describe('AGENT_RECORDS_MODEL_SEED', () => {
  it('accepts a negative seed as fast-check reports it', () => {
    expect(modelSeedFromEnv('-75446441')).toBe(-75446441);
  });

  it('accepts zero and positive integer seeds, and none when unset or empty', () => {
    expect(modelSeedFromEnv('0')).toBe(0);
    expect(modelSeedFromEnv('1234567')).toBe(1234567);
    expect(modelSeedFromEnv(undefined)).toBeUndefined();
    expect(modelSeedFromEnv('')).toBeUndefined();
  });

  it('refuses a seed that is not an integer, naming the variable', () => {
    expect(() => modelSeedFromEnv('1.5')).toThrow(
      /AGENT_RECORDS_MODEL_SEED="1.5" is not an integer/,
    );
    expect(() => modelSeedFromEnv('abc')).toThrow(/AGENT_RECORDS_MODEL_SEED/);
  });
});
