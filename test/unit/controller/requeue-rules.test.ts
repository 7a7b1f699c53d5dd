// Which waiting nodes a status change concerns.
import { describe, expect, it } from '@jest/globals';
import type { MaintenanceStatus } from '../../../src/api/nodemetadata.js';
import { peersToRequeue } from '../../../src/controller/requeue-rules.js';

const status = (phase: MaintenanceStatus['phase'], eventId = 'EV-1'): MaintenanceStatus => ({ phase, eventId, eventType: 'Reboot' });

describe('peersToRequeue', () => {
  const statuses = new Map<string, MaintenanceStatus>([
    ['waiting-budget', status('Cordoned', 'EV-9')],
    ['drained-same', status('Drained', 'EV-1')],
    ['drained-other', status('Drained', 'EV-2')],
    ['draining', status('Draining', 'EV-3')],
    ['idle', status('None')],
  ]);

  it('a drain that ends frees a slot: the nodes waiting for budget', () => {
    expect(peersToRequeue('x', status('Draining'), status('Drained'), statuses).sort()).toEqual(['drained-same', 'waiting-budget']);
    expect(peersToRequeue('x', status('Draining'), undefined, statuses)).toEqual(['waiting-budget']);
  });

  it('a node of an event entering or leaving Drained: the drained nodes of that event only', () => {
    expect(peersToRequeue('x', status('Drained'), status('Approved'), statuses)).toEqual([]);
    expect(peersToRequeue('x', status('Approved'), status('Completed'), statuses)).toEqual(['drained-same']);
    expect(peersToRequeue('x', status('Drained', 'EV-2'), status('Draining', 'EV-2'), statuses)).toEqual(['drained-other']);
  });

  it('nothing for changes nobody waits on', () => {
    expect(peersToRequeue('x', undefined, status('Scheduled'), statuses)).toEqual([]);
    expect(peersToRequeue('x', status('Scheduled'), status('Cordoned'), statuses)).toEqual([]);
    expect(peersToRequeue('x', status('Drained'), status('Drained'), statuses)).toEqual([]);
  });
});
