// The report-and-bump logic on in-memory reports and strings: no compiler, no child processes.
import { describe, expect, it } from 'vitest';
import { isOptionalExtension } from '../src/compat.mjs';
import { diffExports, judgePackage, requiredBump } from '../src/gate.mjs';
import { parseReport, renderReport } from '../src/report.mjs';

const KEEP = 'function keep(x: number): string;';
const GONE = 'const gone = 1;';
const released = new Map([
  ['gone', GONE],
  ['keep', KEEP],
]);
const releasedAt = { commit: 'abc1234def5678', report: renderReport('@fixture/foo', released) };

/** The verdict on @fixture/foo exporting `current`, with a current committed report. */
function judge(
  current: Map<string, string>,
  pending: 'none' | 'patch' | 'minor' | 'major' = 'none',
  options: { committed?: string | null; released?: typeof releasedAt | null } = {},
) {
  const verdict = judgePackage({
    name: '@fixture/foo',
    rel: 'packages/foo',
    current,
    committed:
      options.committed === undefined ? renderReport('@fixture/foo', current) : options.committed,
    released: options.released === undefined ? releasedAt : options.released,
    pending,
  });
  return { ok: verdict.ok, output: verdict.messages.join('\n') };
}
const without = (name: string) => new Map([...released].filter(([key]) => key !== name));
const withExport = (name: string, text: string) =>
  new Map([...released, [name, text]].sort(([a], [b]) => (a < b ? -1 : 1)));

describe('parseReport and renderReport', () => {
  it('round-trip exports, multi-line declarations included', () => {
    const exports = withExport('Options', 'interface Options {\n    a: number;\n}');
    const text = renderReport('@fixture/foo', exports);
    expect(text).toContain('# API report: @fixture/foo');
    expect(text).toContain('## `Options`\n\n```ts\ninterface Options {\n    a: number;\n}\n```');
    expect(parseReport(text)).toEqual(exports);
  });

  it('read an empty or missing report as no exports', () => {
    expect(parseReport('')).toEqual(new Map());
  });
});

describe('diffExports and requiredBump', () => {
  it('ignores layout and quote style', () => {
    const diff = diffExports(
      new Map([['a', "type A = { x: 'y' };"]]),
      new Map([['a', 'type A = {x: "y"};']]),
    );
    expect(diff).toEqual({ removed: [], added: [], changed: [], extended: [] });
    expect(requiredBump(diff)).toBe('none');
  });

  it('needs major for a removed or changed export, minor for an added one', () => {
    expect(requiredBump(diffExports(released, without('gone')))).toBe('major');
    const changed = diffExports(released, withExport('keep', 'function keep(x: string): string;'));
    expect(changed.changed).toEqual(['keep']);
    expect(requiredBump(changed)).toBe('major');
    const added = diffExports(released, withExport('Extra', 'type Extra = { a: 1 };'));
    expect(added.added).toEqual(['Extra']);
    expect(requiredBump(added)).toBe('minor');
  });
});

describe('isOptionalExtension', () => {
  const before = 'interface Options {\n    a: number;\n    b?: string;\n}';
  it('accepts optional properties and methods added to an interface', () => {
    const after =
      'interface Options {\n    a: number;\n    b?: string;\n    c?: boolean;\n    d?(x: number): void;\n}';
    expect(isOptionalExtension(before, after)).toBe(true);
    const diff = diffExports(new Map([['Options', before]]), new Map([['Options', after]]));
    expect(diff.extended).toEqual(['Options']);
    expect(requiredBump(diff)).toBe('minor');
  });

  it('rejects a required member added, a member changed, or a non-interface', () => {
    expect(isOptionalExtension(before, before.replace('}', '    c: boolean;\n}'))).toBe(false);
    expect(isOptionalExtension(before, before.replace('a: number', 'a: string'))).toBe(false);
    expect(isOptionalExtension('type T = { a: 1 };', 'type T = { a: 1; b?: 2 };')).toBe(false);
    expect(isOptionalExtension(before, before)).toBe(false);
  });
});

describe('judgePackage', () => {
  it('passes on an unchanged release', () => {
    expect(judge(released)).toEqual({ ok: true, output: '' });
  });

  it('rejects a stale report, naming the package and the export', () => {
    const { ok, output } = judge(without('gone'), 'major', { committed: releasedAt.report });
    expect(ok).toBe(false);
    expect(output).toMatch(
      /@fixture\/foo: packages\/foo\/api-report\.md does not match the code \(removed export `gone`\)/,
    );
  });

  it('rejects a removed export without a major changeset and accepts it with one', () => {
    let result = judge(without('gone'));
    expect(result.ok).toBe(false);
    expect(result.output).toMatch(
      /@fixture\/foo: API changed since release abc1234 \(removed export `gone`\): needs a `major` changeset, found none/,
    );
    result = judge(without('gone'), 'minor');
    expect(result.ok).toBe(false);
    expect(result.output).toContain('found only `minor`');
    result = judge(without('gone'), 'major');
    expect(result.output).toContain('covered by a pending `major` changeset');
    expect(result.ok).toBe(true);
  });

  it('treats a changed signature as major', () => {
    const { ok, output } = judge(withExport('keep', 'function keep(x: string): string;'), 'minor');
    expect(ok).toBe(false);
    expect(output).toContain('changed export `keep`');
  });

  it('needs a minor changeset for an added export', () => {
    const current = withExport('Extra', 'type Extra = {\n    a: 1;\n};');
    expect(judge(current).output).toContain('added export `Extra`): needs a `minor` changeset');
    expect(judge(current, 'patch').ok).toBe(false);
    expect(judge(current, 'minor').ok).toBe(true);
  });

  it('treats optional members added to an interface as minor, required ones as major', () => {
    const options = (body: string) => withExport('Options', `interface Options {\n${body}}`);
    const base = options('    a: number;\n    b?: string;\n');
    const at = { commit: 'def5678abc1234', report: renderReport('@fixture/foo', base) };
    const optional = options(
      '    a: number;\n    b?: string;\n    c?: boolean;\n    d?(x: number): void;\n',
    );
    expect(judge(optional, 'none', { released: at }).output).toContain(
      'optional members added to `Options`): needs a `minor` changeset',
    );
    expect(judge(optional, 'minor', { released: at }).ok).toBe(true);
    const required = judge(options('    a: number;\n    b?: string;\n    c: boolean;\n'), 'minor', {
      released: at,
    });
    expect(required.ok).toBe(false);
    expect(required.output).toContain('changed export `Options`): needs a `major` changeset');
    const retyped = options('    a: string;\n    b?: string;\n    c?: boolean;\n');
    expect(judge(retyped, 'none', { released: at }).output).toContain('changed export `Options`');
  });

  it('counts every export of a never-released package as added', () => {
    const { ok, output } = judge(released, 'none', { released: null });
    expect(ok).toBe(false);
    expect(output).toContain('API changed since nothing (never released)');
    expect(output).toContain('needs a `minor` changeset');
  });
});
