import { parseProtocolVersion } from '@agent-records/types';
import { fileError } from '../errors.js';
import { progressFor } from '../progress.js';
import { scanLines } from '../scan.js';
import type { LogProblem } from './inspect.js';

export interface ValidationResult {
  file: string;
  records: number;
  problems: LogProblem[];
  problemCount: number;
}

/**
 * Checks that every line is a record and the first record is metadata with a valid protocol
 * version. Streams; keeps the first 1,000 problems.
 */
export async function validateLog(file: string): Promise<ValidationResult> {
  const result: ValidationResult = { file, records: 0, problems: [], problemCount: 0 };
  const add = (problem: LogProblem) => {
    result.problemCount++;
    if (result.problems.length < 1000) result.problems.push(problem);
  };
  const progress = progressFor(file, 'validate');
  try {
    for await (const line of scanLines(file, { onProgress: progress.update })) {
      if (line.problem) {
        add({ line: line.line, offset: line.offset, problem: line.problem });
        continue;
      }
      const record = line.record;
      if (!record) continue;
      result.records++;
      if (result.records === 1 && record.type !== 'metadata') {
        add({
          line: line.line,
          offset: line.offset,
          problem: `first record is of type "${record.type}", not metadata: the log's protocol version is unknown`,
        });
      }
      if (record.type === 'metadata') {
        const version = (record as { protocol_version?: unknown }).protocol_version;
        try {
          parseProtocolVersion(version as string);
        } catch (error) {
          add({ line: line.line, offset: line.offset, problem: (error as Error).message });
        }
      }
    }
  } catch (error) {
    throw fileError(file, error);
  } finally {
    progress.done();
  }
  if (result.records === 0 && result.problemCount === 0) {
    add({ line: 0, offset: 0, problem: 'the log is empty: no metadata record' });
  }
  return result;
}
