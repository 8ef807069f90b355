// A fresh folder for each test, removed after it: the set-up every file-backed test shares.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach } from 'vitest';

/**
 * Registers, for the tests of the calling file (or `describe`), a folder under the OS temp
 * directory named `<prefix><random>`, created before each test and removed after it. Read
 * `.dir` inside a test or hook.
 */
export function useTempDir(prefix: string): { readonly dir: string } {
  let current: string | null = null;
  beforeEach(() => {
    current = mkdtempSync(path.join(tmpdir(), prefix));
  });
  afterEach(() => {
    if (current !== null) rmSync(current, { recursive: true, force: true });
    current = null;
  });
  return {
    get dir(): string {
      if (current === null) throw new Error(`useTempDir('${prefix}'): read .dir inside a test`);
      return current;
    },
  };
}
