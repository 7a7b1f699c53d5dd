import { describe, expect, test } from '@jest/globals';
import { API_VERSION, KIND } from '../../../src/api/names.js';
import type { MaintenanceStatus, NodeMetadata } from '../../../src/api/nodemetadata.js';
import type { ScheduledEvent } from '../../../src/api/observation.js';
import type { NodeState } from '../../../src/controller/cache/cluster-state.js';
import { nodeEvents } from '../../../src/controller/decide/active-event.js';
import { missingProtection } from '../../../src/controller/decide/protection.js';
import { configOf } from './config-of.js';

// Two events of equal rank (both started, both drained): by id, ev-a ranks first; a node already
// handling ev-b keeps it (policy.selectActive). Which of the two a node handles must be decided
// once, the same for the fast path (protection.ts) as for the full reconcile.
const now = new Date('2026-11-22T04:00:00.000Z');
const started = (id: string): ScheduledEvent => ({ id, type: 'Reboot', rawType: 'Reboot', status: 'Started', source: 'Platform', resources: ['vm'] });
const node: NodeState = { metadata: { name: 'n1', annotations: {} }, spec: {}, ready: true };

function nodeMetadata(maintenance: MaintenanceStatus): NodeMetadata {
  return {
    apiVersion: API_VERSION,
    kind: KIND,
    metadata: { name: 'n1' },
    status: { provider: 'azure', observedTime: now.toISOString(), events: [started('ev-a'), started('ev-b')], maintenance },
  };
}

describe('the active event', () => {
  test.each<[string, MaintenanceStatus, boolean, string]>([
    ['a real run handling ev-b keeps it (no flip between equals)', { phase: 'Cordoned', eventId: 'ev-b' }, false, 'ev-b'],
    ['a dry run handling ev-b keeps it', { phase: 'Cordoned', eventId: 'ev-b', dryRun: true }, true, 'ev-b'],
    ['just after a dry run is switched off, the simulated ev-b counts for nothing: ev-a by rank', { phase: 'Cordoned', eventId: 'ev-b', dryRun: true }, false, 'ev-a'],
    ['no event handled yet: ev-a by rank', { phase: 'None' }, false, 'ev-a'],
  ])('%s; the fast path cordons for the same event', (_name, maintenance, dryRun, expected) => {
    const config = configOf(`dryRun: ${dryRun}`);
    const nm = nodeMetadata(maintenance);
    expect(nodeEvents(node, nm, config, now).active?.eventId).toBe(expected);
    expect(missingProtection(node, nm, config, now)?.cordonFor).toBe(expected);
  });
});
