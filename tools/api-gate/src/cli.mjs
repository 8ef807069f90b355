#!/usr/bin/env node
// api-gate check|update [--root DIR]
import path from 'node:path';
import { parseArgs } from 'node:util';
import { runGate } from './gate.mjs';

const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: { root: { type: 'string', default: process.cwd() } },
});
const command = positionals[0];
if (command !== 'check' && command !== 'update') {
  console.error('usage: api-gate check|update [--root DIR]');
  console.error('  check   fail when a report is stale or an API change lacks a changeset');
  console.error('  update  rewrite each published package api-report.md from its code');
  process.exit(2);
}
let result;
try {
  result = runGate(path.resolve(values.root), { update: command === 'update' });
} catch (error) {
  console.error(`api-gate: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
}
const { ok, messages } = result;
for (const message of messages) (ok ? console.log : console.error)(`api-gate: ${message}`);
if (!ok) {
  console.error('api-gate: FAILED');
  process.exit(1);
}
console.log(
  `api-gate: ${command === 'check' ? 'every API report is current and covered' : 'done'}`,
);
