// A short tour of @agent-records/types, run by `pnpm demo` until the full demo lands.
import {
  compareProtocolVersions,
  isMetadataRecord,
  parseProtocolVersion,
  RecordsVersionError,
} from '@agent-records/types';

const log = [
  { type: 'metadata', protocol_version: '1.10', created_at: Date.now() },
  { type: 'turn.prompt', turn_id: 't1', content: 'Summarise README.md', time: Date.now() },
  { type: 'usage.record', model: 'demo-model', input_tokens: 812, output_tokens: 96 },
];

console.log('A log is JSON records, one per line:');
for (const record of log) console.log(`  ${JSON.stringify(record)}`);
console.log(`first record is metadata: ${isMetadataRecord(log[0])}`);
console.log(`parseProtocolVersion('1.10') -> ${JSON.stringify(parseProtocolVersion('1.10'))}`);
const sorted = ['1.10', '1.9', '1.2'].sort(compareProtocolVersions);
console.log(`versions sort numerically: ${sorted.join(' < ')}`);
try {
  parseProtocolVersion('v1');
} catch (error) {
  if (error instanceof RecordsVersionError)
    console.log(`bad version -> ${error.code}: ${error.message}`);
}
