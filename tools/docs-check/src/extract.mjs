// Finds the TypeScript examples of the repository's READMEs. A block is fenced with ```ts (or
// ```typescript); words after the language in its info string are flags:
//   run             the example is also run (in a fresh temp folder, against the packed tarballs)
//   file=<name.ts>  the block is the module <name.ts>, which other blocks of the same README import
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

/**
 * @typedef {{ readme: string, line: number, file: string, run: boolean, code: string }} Example
 */

/** The READMEs whose examples are checked: the root's and every package's. */
export function readmes(root) {
  const list = ['README.md'];
  for (const dir of readdirSync(path.join(root, 'packages')).sort()) {
    const rel = path.join('packages', dir, 'README.md');
    if (existsSync(path.join(root, rel))) list.push(rel);
  }
  return list;
}

/**
 * @param {string} root
 * @param {string} readme path relative to root
 * @returns {Example[]}
 */
export function examplesOf(root, readme) {
  const lines = readFileSync(path.join(root, readme), 'utf8').split('\n');
  const slug =
    readme.replace(/\/README\.md$|README\.md$/, '').replace(/[^a-z0-9]+/gi, '-') || 'root';
  const examples = [];
  let open = null;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    if (open === null) {
      const fence = /^```(ts|typescript)(\s.*)?$/.exec(line);
      if (fence) open = { start: i + 1, flags: (fence[2] ?? '').trim().split(/\s+/), body: [] };
      continue;
    }
    if (line === '```') {
      const named = open.flags.find((flag) => flag.startsWith('file='));
      examples.push({
        readme,
        line: open.start,
        file: named ? named.slice(5) : `${slug}-line-${open.start}.ts`,
        run: open.flags.includes('run'),
        code: open.body.join('\n'),
      });
      open = null;
      continue;
    }
    open.body.push(line);
  }
  return examples;
}

/**
 * The example as a CommonJS-friendly module: imports first, the rest in an async function, so
 * top-level `await` compiles to CommonJS too.
 * @param {string} code
 */
export function wrapForCommonJs(code) {
  const imports = [];
  const body = [];
  let inImport = false;
  for (const line of code.split('\n')) {
    if (inImport || /^import\s/.test(line)) {
      imports.push(line);
      inImport = !/;\s*$/.test(line);
    } else {
      body.push(line);
    }
  }
  return `${imports.join('\n')}\n\nasync function main(): Promise<void> {\n${body.join('\n')}\n}\nmain().catch((error) => {\n  console.error(error);\n  process.exitCode = 1;\n});\n`;
}
