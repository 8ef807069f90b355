import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Example, examplesOf, readmes, wrapForCommonJs } from '../src/extract.mjs';
import { createProject, packAll, spawnAsync, typecheck } from '../src/projects.mjs';

// Every TypeScript block of every README compiles, strict, for a user on node16 resolution and
// on bundler resolution, against the packed tarballs installed with npm outside the repository;
// the blocks marked `run` also run, as ES modules and compiled to CommonJS.
const root = fileURLToPath(new URL('../../../', import.meta.url));
const all: Example[] = readmes(root).flatMap((readme: string) => examplesOf(root, readme));
const runnable = all.filter((example) => example.run);

let work: string;
let project: string;
let diagnostics: Record<'node16' | 'bundler' | 'cjs', Map<string, string[]>>;

const slugOf = (example: Example) => example.readme.replace(/[^a-z0-9]+/gi, '-');
const sourceOf = (example: Example) => path.join('examples', slugOf(example), example.file);
const asModule = (code: string) => `${code}\nexport {};\n`;

beforeAll(async () => {
  work = mkdtempSync(path.join(tmpdir(), 'docs-check-'));
  project = path.join(work, 'project');
  const tarballs = await packAll(root, path.join(work, 'tarballs'));
  await createProject({ root, dir: project, kind: 'module', tarballs });
  // A CommonJS project inside the first one: its own package.json, the same node_modules.
  mkdirSync(path.join(project, 'cjs'));
  writeFileSync(path.join(project, 'cjs', 'package.json'), '{ "type": "commonjs" }\n');

  for (const example of all) {
    const file = path.join(project, sourceOf(example));
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, asModule(example.code));
  }
  for (const example of runnable) {
    const file = path.join(project, 'cjs', sourceOf(example));
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, wrapForCommonJs(example.code));
  }
  const files = all.map(sourceOf);
  diagnostics = {
    node16: await typecheck({ dir: project, files, resolution: 'node16', outDir: 'out' }),
    bundler: await typecheck({ dir: project, files, resolution: 'bundler' }),
    cjs: await typecheck({
      dir: path.join(project, 'cjs'),
      files: runnable.map(sourceOf),
      resolution: 'node16',
      outDir: 'out',
    }),
  };
});

afterAll(() => {
  if (work && !process.env.AGENT_RECORDS_KEEP_DOCS_CHECK)
    rmSync(work, { recursive: true, force: true });
});

/** Runs compiled JavaScript in a fresh empty folder, as a user's script would run. */
async function runScript(script: string): Promise<string> {
  const cwd = mkdtempSync(path.join(work, 'run-'));
  const result = await spawnAsync(process.execPath, [script], { cwd, timeout: 120_000 });
  if (result.status !== 0) {
    throw new Error(`${script} exited ${result.status}:\n${result.stderr}`);
  }
  return result.stdout;
}

describe('README examples', () => {
  it('finds the examples, and at least one runnable', () => {
    expect(all.length).toBeGreaterThan(5);
    expect(runnable.length).toBeGreaterThan(0);
    for (const checked of Object.values(diagnostics)) {
      expect(checked.get('(project)') ?? []).toEqual([]);
    }
  });

  describe.each(all.map((example) => [`${example.readme}:${example.line}`, example] as const))(
    '%s',
    (_name, example) => {
      it('compiles with node16 resolution (strict)', () => {
        expect(diagnostics.node16.get(sourceOf(example))).toEqual([]);
      });
      it('compiles with bundler resolution (strict)', () => {
        expect(diagnostics.bundler.get(sourceOf(example))).toEqual([]);
      });
      if (example.run) {
        it('runs as an ES module', async () => {
          const script = path.join(project, 'out', sourceOf(example).replace(/\.ts$/, '.js'));
          await runScript(script);
        });
        it('compiles to CommonJS and runs', async () => {
          expect(diagnostics.cjs.get(sourceOf(example))).toEqual([]);
          const script = path.join(
            project,
            'cjs',
            'out',
            sourceOf(example).replace(/\.ts$/, '.js'),
          );
          await runScript(script);
        });
      }
    },
  );
});
