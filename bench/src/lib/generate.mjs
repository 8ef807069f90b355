// Fast, honest generation of large logs: the same JSON lines our writer would write, built in
// ~4 MB strings and written with plain writes, then fsynced once.
import fs from 'node:fs';
import { AgentRecords } from '@agent-records/core';
import { FileSystemAgentRecordPersistence } from '@agent-records/fs-persistence';

export const METADATA = {
  type: 'metadata',
  protocol_version: '1.0',
  created_at: 1_700_000_000_000,
};

/** Writes `head` then `make(i)` for i in [from, to) as JSON lines; returns the bytes written. */
export function writeJsonl(file, head, from, to, make) {
  const fd = fs.openSync(file, 'w', 0o600);
  let bytes = 0;
  let text = head.map((record) => `${JSON.stringify(record)}\n`).join('');
  const drain = () => {
    bytes += fs.writeSync(fd, text);
    text = '';
  };
  for (let i = from; i < to; i++) {
    text += `${JSON.stringify(make(i))}\n`;
    if (text.length >= 4 << 20) drain();
  }
  drain();
  fs.fsyncSync(fd);
  fs.closeSync(fd);
  return bytes;
}

/** Which issue-15 capabilities are missing from the code built now, as a skip reason or null. */
export function missingSnapshotCapabilities() {
  const missing = [];
  if (typeof AgentRecords.prototype.snapshot !== 'function')
    missing.push('core records.snapshot()');
  for (const name of ['readFrom', 'writeSnapshot', 'readSnapshot'])
    if (typeof FileSystemAgentRecordPersistence.prototype[name] !== 'function')
      missing.push(`fs persistence ${name}()`);
  return missing.length > 0 ? `not built yet: ${missing.join(', ')}` : null;
}
