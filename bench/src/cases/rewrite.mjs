// Case 5: durable rewrite; case 6: large payloads with and without blobs.
import fs from 'node:fs';
import path from 'node:path';
import { AgentRecords } from '@agent-records/core';
import { FileSystemAgentRecordPersistence } from '@agent-records/fs-persistence';
import { limitWrite, referenceRewrite } from '../baselines.mjs';
import { fileBytes, measure } from '../lib/measure.mjs';
import { makeRecord, makeRecords } from '../records.mjs';

const rewrite = async ({ impl, count, file }) => {
  const data = makeRecords(count);
  fs.writeFileSync(file, '{"type":"metadata","protocol_version":"0.9","created_at":1}\n');
  let result;
  if (impl === 'limit') {
    result = await measure(() => ({ bytes: limitWrite(file, data) }));
  } else if (impl === 'reference') {
    result = await measure(() => {
      try {
        return { bytes: referenceRewrite(file, data) };
      } catch (error) {
        return { error: `${error.name}: ${error.message}` };
      }
    });
  } else {
    const persistence = new FileSystemAgentRecordPersistence(file, { onError: () => {} });
    result = await measure(async () => {
      persistence.rewrite(data);
      await persistence.flush();
      return { bytes: fileBytes(file) };
    });
    await persistence.close();
  }
  return { ...result, records: count, recordsPerSec: count / (result.ms / 1000) };
};

// `count` records, one in ten carrying a 1 MB image.
function imageRecords(count) {
  const out = [];
  for (let i = 0; i < count; i++) {
    const record = makeRecord(i);
    if (i % 10 === 5) {
      const bytes = Buffer.alloc(1024 * 1024);
      for (let b = 0; b < bytes.length; b += 4)
        bytes.writeUInt32LE((Math.imul(i + 1, 2654435761) + b * 40503) >>> 0, b);
      record.message = {
        role: 'user',
        content: [
          { type: 'text', text: 'what does this screenshot show?' },
          { type: 'image', source: `data:image/png;base64,${bytes.toString('base64')}` },
        ],
      };
    }
    out.push(record);
  }
  return out;
}
const blobOptions = (impl, file) => (impl === 'blobs' ? { blobs: { dir: `${file}.blobs` } } : {});

export default {
  rewrite,
  'rewrite-large': rewrite,

  async 'prepare-blobs'({ impl, count, file }) {
    const options = { lock: false, ...blobOptions(impl, file) };
    const persistence = new FileSystemAgentRecordPersistence(file, options);
    persistence.append({ type: 'metadata', protocol_version: '1.0', created_at: 1 });
    // Flush as a live agent would: 130 MB of images queued at once would exceed maxPendingBytes.
    for (const [i, record] of imageRecords(count).entries()) {
      persistence.append(record);
      if (i % 10 === 9) await persistence.flush();
    }
    await persistence.close();
    return {};
  },

  // 6. Replay of `count` records, one in ten with a 1 MB image, inline or as blobs.
  async blobs({ impl, count, file }) {
    const logBytes = fs.statSync(file).size;
    const blobDir = `${file}.blobs`;
    const blobBytes =
      impl === 'blobs'
        ? fs
            .readdirSync(blobDir)
            .reduce((sum, name) => sum + fs.statSync(path.join(blobDir, name)).size, 0)
        : 0;
    const options = { lock: false, ...blobOptions(impl, file) };
    const persistence = new FileSystemAgentRecordPersistence(file, options);
    let restored = 0;
    const records = new AgentRecords({
      persistence,
      protocolVersion: '1.0',
      restore: () => {
        restored++;
      },
    });
    const result = await measure(async () => {
      await records.replay();
      return { restored };
    });
    return { ...result, records: count, logMB: logBytes / 2 ** 20, blobMB: blobBytes / 2 ** 20 };
  },
};
