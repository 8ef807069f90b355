import type { AgentRecordEnvelope, AgentRecordPersistence } from '@agent-records/types';
import { expect, it } from 'vitest';
import type { PersistenceContractSubject } from './contract.js';

/**
 * The optional capabilities the suites test when a backend offers them:
 * - `readFrom`: `readFrom(position | null)`;
 * - `snapshots`: `writeSnapshot` and `readSnapshot`;
 * - `title`: `setTitle`.
 */
export type PersistenceCapability = 'readFrom' | 'snapshots' | 'title';

export const ALL_CAPABILITIES: readonly PersistenceCapability[] = [
  'readFrom',
  'snapshots',
  'title',
];

const METHODS: Record<PersistenceCapability, readonly string[]> = {
  readFrom: ['readFrom'],
  snapshots: ['writeSnapshot', 'readSnapshot'],
  title: ['setTitle'],
};

/** The capabilities `persistence` has (each of its methods is a function). */
export function capabilitiesOf(
  persistence: AgentRecordPersistence<AgentRecordEnvelope>,
): Set<PersistenceCapability> {
  const found = new Set<PersistenceCapability>();
  for (const capability of ALL_CAPABILITIES) {
    const methods = METHODS[capability];
    const target = persistence as unknown as Record<string, unknown>;
    if (methods.every((method) => typeof target[method] === 'function')) found.add(capability);
  }
  return found;
}

/** Opens one persistence of a fresh subject to see what it offers, then closes and cleans up. */
export async function probeCapabilities(
  factory: () => PersistenceContractSubject | Promise<PersistenceContractSubject>,
): Promise<Set<PersistenceCapability>> {
  const subject = await factory();
  try {
    const persistence = subject.open({ onError: () => {} });
    try {
      return capabilitiesOf(persistence);
    } finally {
      await persistence.close().catch(() => {});
    }
  } finally {
    await subject.cleanup?.();
  }
}

/** Why `found` lacks a capability the backend claims (`expected`), or null. */
export function missingCapabilities(
  found: ReadonlySet<PersistenceCapability>,
  expected: readonly PersistenceCapability[],
): string | null {
  const missing = expected.filter((capability) => !found.has(capability));
  if (missing.length === 0) return null;
  return missing
    .map((capability) => `${capability} (${METHODS[capability].join(' and ')})`)
    .join(', ');
}

/**
 * Registers the test that fails loudly when a backend claims a capability it does not offer
 * (`expectCapabilities`): without it, the capability's tests would simply not be registered.
 */
export function registerClaimTest(
  found: ReadonlySet<PersistenceCapability>,
  expected: readonly PersistenceCapability[] | undefined,
): void {
  if (!expected || expected.length === 0) return;
  it(`offers the capabilities it claims: ${expected.join(', ')}`, () => {
    const missing = missingCapabilities(found, expected);
    expect(
      missing,
      `the persistence claims ${missing} but lacks the method(s): check its class and the factory`,
    ).toBeNull();
  });
}
