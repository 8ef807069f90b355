// Builds a package's API report: every export of src/index.ts with its declaration as the
// TypeScript compiler emits it to a .d.ts (bodies and private details stripped), one section each.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import ts from 'typescript';

export const REPORT_FILE = 'api-report.md';
const HEADING = /^## `([^`]+)`$/;

/**
 * Parsed files shared by the programs of one gate run. Every package's program loads the same
 * default lib and `@types/node` (megabytes of declarations); parsing and binding them once per
 * run instead of once per package is most of the gate's time. Files are keyed by the settings that
 * change how they parse and bind (the same key TypeScript's document registry uses), so packages
 * with different options never share a file. Only for one run: edits made after it are not seen.
 */
export function createSourceFileCache() {
  const registry = ts.createDocumentRegistry();
  /** @type {Map<string, ts.SourceFile>} */
  const files = new Map();
  return {
    /** @param {ts.CompilerOptions} options @returns {ts.CompilerHost} */
    host(options) {
      const host = ts.createCompilerHost(options, true);
      const settings = registry.getKeyForCompilationSettings(options);
      const parse = host.getSourceFile.bind(host);
      host.getSourceFile = (fileName, languageVersionOrOptions, onError, createNew) => {
        const version =
          typeof languageVersionOrOptions === 'object'
            ? `${languageVersionOrOptions.languageVersion}|${languageVersionOrOptions.impliedNodeFormat}`
            : `${languageVersionOrOptions}`;
        const key = `${settings}|${version}|${fileName}`;
        const cached = createNew ? undefined : files.get(key);
        if (cached) return cached;
        const file = parse(fileName, languageVersionOrOptions, onError, createNew);
        if (file) files.set(key, file);
        return file;
      };
      return host;
    },
  };
}

/**
 * @param {string} packageDir
 * @param {ReturnType<typeof createSourceFileCache>} [cache] share one across the packages of a run
 * @returns {Map<string, string>} export name -> normalised declaration text
 */
export function collectExports(packageDirectory, cache = createSourceFileCache()) {
  const packageDir = path.resolve(packageDirectory); // a relative one would never meet rootDir
  const entry = path.join(packageDir, 'src', 'index.ts');
  const tsconfig = path.join(packageDir, 'tsconfig.json');
  const config = ts.getParsedCommandLineOfConfigFile(
    tsconfig,
    {
      noEmit: false,
      declaration: true,
      emitDeclarationOnly: true,
      declarationMap: false,
      sourceMap: false,
      // The report needs declarations, not diagnostics (typecheck and build report those):
      // without a full check the compiler only resolves the types the declarations mention.
      noCheck: true,
      skipLibCheck: true,
      outDir: path.join(packageDir, '.api-gate-out'),
    },
    { ...ts.sys, onUnRecoverableConfigFileDiagnostic: (d) => fail(d) },
  );
  if (!config) throw new Error(`Cannot read ${tsconfig}`);
  const program = ts.createProgram({
    rootNames: [entry],
    options: config.options,
    host: cache.host(config.options),
  });
  /** @type {Map<string, ts.SourceFile>} source path (no extension) -> emitted declaration file */
  const emitted = new Map();
  program.emit(
    undefined,
    (fileName, text) => {
      if (!fileName.endsWith('.d.ts')) return;
      const relative = path.relative(config.options.outDir ?? '', fileName).replace(/\.d\.ts$/, '');
      emitted.set(relative, ts.createSourceFile(fileName, text, ts.ScriptTarget.Latest, true));
    },
    undefined,
    true,
  );

  const checker = program.getTypeChecker();
  const source = program.getSourceFile(entry);
  if (!source) throw new Error(`No entry point at ${entry}`);
  const moduleSymbol = checker.getSymbolAtLocation(source);
  if (!moduleSymbol) return new Map();
  const printer = ts.createPrinter({ removeComments: true, newLine: ts.NewLineKind.LineFeed });
  const rootDir = config.options.rootDir ?? commonRoot(program, packageDir);

  const result = new Map();
  for (const symbol of checker.getExportsOfModule(moduleSymbol)) {
    const target = symbol.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(symbol) : symbol;
    const texts = [];
    for (const declaration of target.declarations ?? []) {
      const file = declaration.getSourceFile();
      if (file.isDeclarationFile) {
        texts.push(printer.printNode(ts.EmitHint.Unspecified, statementOf(declaration), file));
        continue;
      }
      const key = path.relative(rootDir, file.fileName).replace(/\.(c|m)?tsx?$/, '');
      const dts = emitted.get(key);
      const name = target.getName();
      for (const statement of dts?.statements ?? []) {
        if (declaredNames(statement).includes(name)) {
          texts.push(printer.printNode(ts.EmitHint.Unspecified, statement, dts));
        }
      }
    }
    const unique = [...new Set(texts.map(normalise))];
    result.set(symbol.getName(), unique.join('\n'));
  }
  return new Map([...result].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/** @param {Map<string, string>} exports @param {string} packageName */
export function renderReport(packageName, exports) {
  const lines = [
    `# API report: ${packageName}`,
    '',
    '<!-- Generated by `pnpm api:update`; do not edit. `pnpm api:check` compares it with the',
    '     code and asks for a changeset of the matching bump when it changes. -->',
    '',
  ];
  for (const [name, text] of exports) {
    lines.push(`## \`${name}\``, '', '```ts', text, '```', '');
  }
  return lines.join('\n');
}

/** @param {string} report @returns {Map<string, string>} */
export function parseReport(report) {
  const exports = new Map();
  const lines = report.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const heading = HEADING.exec(lines[i] ?? '');
    if (!heading) continue;
    let start = i + 1;
    while (start < lines.length && lines[start] !== '```ts') start++;
    let end = start + 1;
    while (end < lines.length && lines[end] !== '```') end++;
    exports.set(heading[1], lines.slice(start + 1, end).join('\n'));
    i = end;
  }
  return exports;
}

/** @param {string} packageDir */
export function readPackageJson(packageDir) {
  return JSON.parse(readFileSync(path.join(packageDir, 'package.json'), 'utf8'));
}

/** @param {ts.Node} node */
function statementOf(node) {
  let current = node;
  while (current.parent && !ts.isSourceFile(current.parent) && !ts.isModuleBlock(current.parent)) {
    current = current.parent;
  }
  return current;
}

/** @param {ts.Statement} statement @returns {string[]} */
function declaredNames(statement) {
  if (ts.isVariableStatement(statement)) {
    return statement.declarationList.declarations.map((d) => d.name.getText());
  }
  const name = /** @type {{ name?: ts.Node }} */ (statement).name;
  return name ? [name.getText()] : [];
}

/** @param {string} text */
function normalise(text) {
  // Export modifiers depend on how the symbol reached the entry point, not on its shape.
  return text
    .replace(/^export (default )?/gm, '')
    .replace(/^declare /gm, '')
    .trimEnd();
}

/** @param {ts.Program} program @param {string} packageDir */
function commonRoot(program, packageDir) {
  // Without rootDir, tsc emits relative to the longest common folder of the program's own files.
  const own = program
    .getSourceFiles()
    .filter((f) => !f.isDeclarationFile && !f.fileName.includes('/node_modules/'))
    .map((f) => path.dirname(f.fileName));
  if (own.length === 0) return path.join(packageDir, 'src');
  let root = own[0] ?? packageDir;
  for (const dir of own) {
    while (!`${dir}/`.startsWith(`${root}/`)) root = path.dirname(root);
  }
  return root;
}

/** @param {ts.Diagnostic} diagnostic */
function fail(diagnostic) {
  throw new Error(ts.flattenDiagnosticMessageText(diagnostic.messageText, '\n'));
}
