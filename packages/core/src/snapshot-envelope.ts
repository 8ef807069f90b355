import { messageOf } from '@agent-records/backend-kit';
import { compareProtocolVersions } from '@agent-records/types';
import { type SliceOptions, stringifyInSlices } from './json-slices.js';

/** Names the core's snapshot text, so a reader never mistakes another JSON document for one. */
export const SNAPSHOT_FORMAT = 'agent-records.snapshot';
/** The envelope's own layout; a reader refuses any other. */
export const SNAPSHOT_FORMAT_VERSION = 1;

/**
 * What the core knows about the log at a point, and needs back to replay only what follows it:
 * the same facts a full replay would have gathered up to there.
 */
export interface LogFacts {
  /** Records in the log, metadata included, as the core counted them. */
  records: number;
  /** How many of them a full replay restores (observability records are not restored). */
  restored: number;
  /** The first segment's protocol version. */
  fromVersion: string;
  /** The last segment's protocol version and `created_at`. */
  segmentVersion: string;
  segmentCreatedAt: number;
  /** A segment newer than this code, replayed unmigrated (the replay repeats its warning). */
  aheadVersion: string | null;
}

/** The stored JSON: the core's header, then the host's state. */
export interface SnapshotEnvelope extends LogFacts {
  format: typeof SNAPSHOT_FORMAT;
  v: typeof SNAPSHOT_FORMAT_VERSION;
  protocolVersion: string;
  /** The host's `snapshots.version`, `null` when it gave none. */
  stateVersion: string | number | null;
  /** When the state was taken (epoch ms, the core's clock). */
  takenAt: number;
  state: unknown;
}

export type EnvelopeHeader = Omit<SnapshotEnvelope, 'state'>;

/**
 * The envelope as JSON text, the state serialised in slices. Rejects (and the backend drops the
 * snapshot with a warning) when the state has no JSON form or cannot be serialised.
 */
export async function envelopeText(
  header: EnvelopeHeader,
  state: unknown,
  options?: SliceOptions,
): Promise<string> {
  let stateText: string | undefined;
  try {
    stateText = await stringifyInSlices(state, options);
  } catch (cause) {
    throw new TypeError(
      `The snapshot was not stored: its state could not be serialised to JSON (${messageOf(cause)}). ` +
        'Make snapshots.take() return JSON data (no BigInt, no cycles).',
      { cause },
    );
  }
  if (stateText === undefined) {
    throw new TypeError(
      'The snapshot was not stored: snapshots.take() returned a value with no JSON form ' +
        '(undefined, a function or a symbol). Return the state as JSON data.',
    );
  }
  // The header is small and plain: one JSON.stringify, then the state's text spliced in.
  const head = JSON.stringify(header);
  return `${head.slice(0, -1)},"state":${stateText}}`;
}

/** What the replaying core expects of a snapshot to use it. */
export interface EnvelopeExpectations {
  protocolVersion: string;
  stateVersion: string | number | null;
  /** `records` as the backend stored it beside the data. */
  storedRecords: number;
}

/** The parsed envelope, or why it cannot be used (a sentence for the warning). */
export function parseEnvelope(
  data: string,
  expect: EnvelopeExpectations,
): { envelope: SnapshotEnvelope } | { problem: string } {
  let parsed: unknown;
  try {
    parsed = JSON.parse(data);
  } catch (error) {
    return { problem: `it is not valid JSON (${messageOf(error)})` };
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    return { problem: 'it is not a JSON object' };
  }
  const envelope = parsed as Partial<SnapshotEnvelope>;
  if (envelope.format !== SNAPSHOT_FORMAT || envelope.v !== SNAPSHOT_FORMAT_VERSION) {
    return {
      problem: `it is not an agent-records snapshot of format ${SNAPSHOT_FORMAT_VERSION} (format ${JSON.stringify(envelope.format)}, v ${JSON.stringify(envelope.v)})`,
    };
  }
  if (
    typeof envelope.protocolVersion !== 'string' ||
    !sameVersion(envelope.protocolVersion, expect.protocolVersion)
  ) {
    return {
      problem: `it was taken at protocol version ${String(envelope.protocolVersion)}, this code is at ${expect.protocolVersion}`,
    };
  }
  if (envelope.stateVersion !== expect.stateVersion) {
    return {
      problem: `its state is at version ${JSON.stringify(envelope.stateVersion)}, snapshots.version is ${JSON.stringify(expect.stateVersion)}`,
    };
  }
  const malformed = factsProblem(envelope);
  if (malformed) return { problem: `its header is malformed (${malformed})` };
  if (envelope.records !== expect.storedRecords) {
    return {
      problem: `it says it covers ${envelope.records} records but was stored as covering ${expect.storedRecords}`,
    };
  }
  if (!('state' in envelope)) return { problem: 'it holds no state' };
  return { envelope: envelope as SnapshotEnvelope };
}

function factsProblem(envelope: Partial<SnapshotEnvelope>): string | null {
  const counts = ['records', 'restored'] as const;
  for (const name of counts) {
    const value = envelope[name];
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1) {
      return `${name} is ${JSON.stringify(value)}`;
    }
  }
  for (const name of ['takenAt', 'segmentCreatedAt'] as const) {
    if (typeof envelope[name] !== 'number' || !Number.isFinite(envelope[name])) {
      return `${name} is ${JSON.stringify(envelope[name])}`;
    }
  }
  for (const name of ['fromVersion', 'segmentVersion'] as const) {
    if (!isVersion(envelope[name])) return `${name} is ${JSON.stringify(envelope[name])}`;
  }
  if (envelope.aheadVersion !== null && !isVersion(envelope.aheadVersion)) {
    return `aheadVersion is ${JSON.stringify(envelope.aheadVersion)}`;
  }
  return null;
}

export function isVersion(value: unknown): value is string {
  if (typeof value !== 'string') return false;
  try {
    compareProtocolVersions(value, value);
    return true;
  } catch {
    return false;
  }
}

function sameVersion(a: string, b: string): boolean {
  return isVersion(a) && compareProtocolVersions(a, b) === 0;
}
