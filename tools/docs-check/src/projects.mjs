// Throwaway projects outside the repository, set up as a user would: the published packages
// packed into tarballs (workspace: ranges replaced, only the `files` shipped) and installed with
// plain npm, beside TypeScript, @types/node and vitest at the versions this repository uses.
import { execFile, spawn } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

const PNPM = ['-y', 'pnpm@10.34.9'];

/**
 * Runs a command without blocking the event loop (a test worker that blocks for a minute on an
 * npm install starves the test runner's own messages). Rejects like `execFileSync` throws: with
 * the output on the error.
 */
function run(command, args, cwd) {
  return new Promise((resolve, reject) => {
    execFile(
      command,
      args,
      { cwd, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 },
      (error, stdout, stderr) => {
        if (error) reject(Object.assign(error, { stdout, stderr }));
        else resolve(stdout);
      },
    );
  });
}

/** Packs every published package of `root` into `dest`; returns the tarball paths. */
export async function packAll(root, dest) {
  mkdirSync(dest, { recursive: true });
  const published = new Set();
  for (const dir of readdirSync(path.join(root, 'packages'))) {
    const json = JSON.parse(readFileSync(path.join(root, 'packages', dir, 'package.json'), 'utf8'));
    if (!json.private)
      published.add(`${json.name.replace('@', '').replace('/', '-')}-${json.version}.tgz`);
  }
  // One pnpm for every package (one npx start-up instead of one per package).
  await run(
    'npx',
    [...PNPM, '-r', '--filter', './packages/*', 'pack', '--pack-destination', dest],
    root,
  );
  const tarballs = readdirSync(dest).filter((name) => published.has(name));
  if (tarballs.length !== published.size) {
    throw new Error(`packed ${tarballs.join(', ')}; expected ${[...published].join(', ')}`);
  }
  return tarballs.sort().map((name) => path.join(dest, name));
}

/** The version of a dev tool as the repository's root package.json pins it. */
function pinned(root, name) {
  const json = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8'));
  const version = json.devDependencies?.[name];
  if (!version) throw new Error(`the root package.json pins no ${name}`);
  return `${name}@${version}`;
}

/**
 * Creates a project in `dir` of the given module kind and installs the tarballs into it with npm.
 * @param {{ root: string, dir: string, kind: 'module' | 'commonjs', tarballs: string[] }} options
 */
export async function createProject({ root, dir, kind, tarballs }) {
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    path.join(dir, 'package.json'),
    `${JSON.stringify({ name: `docs-check-${kind}`, private: true, type: kind }, null, 2)}\n`,
  );
  await run(
    'npm',
    [
      'install',
      '--no-audit',
      '--no-fund',
      // The registry's metadata as cached by an earlier install, when there is one: a re-run
      // need not ask the registry again for versions pinned exactly.
      '--prefer-offline',
      '--loglevel=error',
      ...tarballs,
      pinned(root, 'typescript'),
      pinned(root, '@types/node'),
      pinned(root, 'vitest'),
    ],
    dir,
  );
  return dir;
}

/**
 * Type-checks `files` (relative to `dir`) with the given resolution; returns the diagnostics per
 * file, empty for a file that compiles. With `outDir` it also emits JavaScript there.
 * @param {{ dir: string, files: string[], resolution: 'node16' | 'bundler', outDir?: string }} options
 */
export async function typecheck({ dir, files, resolution, outDir }) {
  const tsconfig = `tsconfig.${resolution}.json`;
  const compilerOptions = {
    strict: true,
    target: 'es2022',
    module: resolution === 'bundler' ? 'esnext' : 'node16',
    moduleResolution: resolution,
    types: ['node'],
    skipLibCheck: true,
    noEmit: outDir === undefined,
    ...(outDir ? { outDir, rootDir: '.' } : {}),
  };
  writeFileSync(path.join(dir, tsconfig), JSON.stringify({ compilerOptions, files }, null, 2));
  // The project's own TypeScript, found the way Node finds it from `dir` (a nested project uses
  // its parent's node_modules).
  const tsc = createRequire(path.join(dir, 'package.json')).resolve('typescript/bin/tsc');
  let output = '';
  try {
    output = await run(process.execPath, [tsc, '-p', tsconfig, '--pretty', 'false'], dir);
  } catch (error) {
    output = `${error.stdout ?? ''}${error.stderr ?? ''}`;
    // tsc exits 1 or 2 with diagnostics; anything else (it did not run) must not pass as clean.
    if (!/error TS\d+/.test(output)) output = `(project): error TS0: tsc failed: ${error.message}`;
  }
  const byFile = new Map(files.map((file) => [file, []]));
  for (const line of output.split('\n')) {
    const match = /^(.+?)\(\d+,\d+\): error /.exec(line);
    if (match && byFile.has(match[1])) byFile.get(match[1]).push(line);
    else if (line.includes('error TS')) {
      byFile.set('(project)', [...(byFile.get('(project)') ?? []), line]);
    }
  }
  return byFile;
}

/**
 * Runs a command to its end without blocking the event loop; resolves with its exit status and
 * output whatever the status.
 * @param {string} command
 * @param {string[]} args
 * @param {{ cwd: string, env?: NodeJS.ProcessEnv, timeout?: number }} options
 * @returns {Promise<{ status: number | null, stdout: string, stderr: string }>}
 */
export function spawnAsync(command, args, { cwd, env, timeout = 300_000 }) {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd, env: env ?? process.env });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk) => {
      stdout += chunk;
    });
    child.stderr.setEncoding('utf8').on('data', (chunk) => {
      stderr += chunk;
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeout);
    child.on('error', reject);
    child.on('close', (status) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr });
    });
  });
}
