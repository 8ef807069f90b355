import { describe, expect, it } from 'vitest';
import { isMetadataRecord, isObservabilityRecord, OBSERVABILITY_RECORD_TYPES } from './records.js';

describe('record helpers', () => {
  it('recognises metadata records', () => {
    expect(isMetadataRecord({ type: 'metadata', protocol_version: '1.0', created_at: 1 })).toBe(
      true,
    );
    expect(isMetadataRecord({ type: 'metadata' })).toBe(false);
    expect(isMetadataRecord({ type: 'turn.prompt', protocol_version: '1.0' })).toBe(false);
    expect(isMetadataRecord(null)).toBe(false);
    expect(isMetadataRecord('metadata')).toBe(false);
  });

  it('lists the observability types, frozen', () => {
    expect([...OBSERVABILITY_RECORD_TYPES].sort()).toEqual([
      'llm.request',
      'llm.tools_snapshot',
      'mcp.tools_discovered',
    ]);
    expect(Object.isFrozen(OBSERVABILITY_RECORD_TYPES)).toBe(true);
    expect(isObservabilityRecord({ type: 'llm.request' })).toBe(true);
    expect(isObservabilityRecord({ type: 'turn.prompt' })).toBe(false);
  });
});
