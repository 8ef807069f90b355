// What the blob tests share: a temp folder per test with the blob folder inside, and images.
import path from 'node:path';
import { useTempDir } from './temp-dir.js';

/** The temp folder of each test (`dir`) and the blob folder inside it (`blobDir`, not created). */
export function useBlobFolders(prefix: string): { readonly dir: string; readonly blobDir: string } {
  const temp = useTempDir(prefix);
  return {
    get dir(): string {
      return temp.dir;
    },
    get blobDir(): string {
      return path.join(temp.dir, 'blobs');
    },
  };
}

/**
 * A `data:image/png;base64,` URI of `bytes` decoded bytes (over the default 4096-character
 * threshold from about 3,100 bytes), the same for the same `seed` and different for another.
 */
export function imageDataUri(bytes = 8000, seed = 1): string {
  const data = Buffer.alloc(bytes);
  for (let i = 0; i < bytes; i++) data[i] = (i * 31 + seed * 17) % 256;
  return `data:image/png;base64,${data.toString('base64')}`;
}
