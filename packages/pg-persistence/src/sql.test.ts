import { describe, expect, it } from 'vitest';
import { qualified } from './sql.js';

describe('table names', () => {
  it('refuses a table name whose derived names (the longest: <table>_snapshots) would pass 63 characters, which PostgreSQL would cut and could make two stores share a table', () => {
    const longest = 'a'.repeat(53);
    const names = qualified({ schema: 'public', table: longest });
    for (const name of [names.records, names.sessions, names.snapshots, names.meta]) {
      const table = name.split('.')[1] as string;
      expect(table.length - 2).toBeLessThanOrEqual(63); // without the quotes
    }
    expect(names.activityIndex.length - 2).toBeLessThanOrEqual(63);
    expect(() => qualified({ schema: 'public', table: 'a'.repeat(54) })).toThrow(
      /table name "a{54}" is 54 characters: at most 53/,
    );
    expect(() => qualified({ schema: 'public', table: '1bad' })).toThrow(/Invalid table name/);
  });
});
