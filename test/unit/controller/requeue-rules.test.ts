// Which nodes a change requeues: the waiting peers of a status change, and what each informer change asks of the queues.
import { describe, expect, it } from '@jest/globals';
import type { MaintenanceStatus } from '../../../src/api/nodemetadata.js';
import { peersToRequeue, requeueForAll, requeueForNode, requeueForNodeMetadata } from '../../../src/controller/decide/requeue-rules.js';

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

describe('what an informer change requeues', () => {
  const statuses = new Map<string, MaintenanceStatus>([
    ['waiting-budget', status('Cordoned', 'EV-9')],
    ['drained-same', status('Drained', 'EV-1')],
  ]);

  it('a Node added or changed: the node, its fast path first; a Node deleted: only its reconcile (it frees its slot)', () => {
    expect(requeueForNode('n1', false)).toEqual({ protect: ['n1'], reconcile: ['n1'] });
    expect(requeueForNode('n1', true)).toEqual({ protect: [], reconcile: ['n1'] });
    expect(requeueForNode(undefined, false)).toEqual({ protect: [], reconcile: [] });
    expect(requeueForNode('', false)).toEqual({ protect: [], reconcile: [] });
  });

  it('a NodeMetadata change: its node with the fast path, and the peers waiting on it', () => {
    expect(requeueForNodeMetadata('x', false, status('Scheduled'), status('Cordoned'), statuses)).toEqual({ protect: ['x'], reconcile: ['x'] });
    expect(requeueForNodeMetadata('x', false, status('Draining'), status('Drained'), statuses)).toEqual({ protect: ['x'], reconcile: ['x', 'waiting-budget', 'drained-same'] });
  });

  it('a NodeMetadata deleted mid-drain: no fast path for it, but the slot it held goes to a waiting node', () => {
    expect(requeueForNodeMetadata('x', true, status('Draining'), undefined, statuses)).toEqual({ protect: [], reconcile: ['x', 'waiting-budget'] });
  });

  it('every node (leadership gained, configuration reloaded): each with its fast path, nameless ones skipped', () => {
    expect(requeueForAll(['a', undefined, 'b', ''])).toEqual({ protect: ['a', 'b'], reconcile: ['a', 'b'] });
  });
});
