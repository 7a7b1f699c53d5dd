// The fleet's facts kept from informer events: every change replaces the node's old contribution.
import { describe, expect, it } from '@jest/globals';
import type { NodeMetadata } from '../../../src/api/nodemetadata.js';
import { FleetIndex } from '../../../src/controller/cache/fleet-index.js';

const scaleSet = (index: number) => `azure:///subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/virtualMachineScaleSets/vmss/virtualMachines/${index}`;
const nodeMetadata = (name: string, status: NodeMetadata['status']): NodeMetadata => ({ apiVersion: 'nodemeta.io/v1alpha1', kind: 'NodeMetadata', metadata: { name }, status }) as NodeMetadata;

describe('FleetIndex', () => {
  it('maps VMs to managed nodes, the agent’s name first, the providerID until it reports', () => {
    const fleet = new FleetIndex();
    fleet.updateNode('n0', { providerID: scaleSet(0) });
    fleet.updateNode('n1', {});
    expect(fleet.vmIndex()).toEqual({ nodesByVmName: new Map([['vmss_0', 'n0']]), unmapped: ['n1'] });
    fleet.updateNodeMetadata('n1', nodeMetadata('n1', { instance: { name: 'VMSS_1' } } as NodeMetadata['status']));
    expect(fleet.vmIndex()).toEqual({ nodesByVmName: new Map([['vmss_0', 'n0'], ['vmss_1', 'n1']]), unmapped: [] });
    fleet.updateNode('n1', undefined);
    expect(fleet.vmIndex().nodesByVmName.has('vmss_1')).toBe(false);
    expect(fleet.managedCount()).toBe(1);
  });

  it('counts draining nodes and approvals as they change, and forgets deleted ones', () => {
    const fleet = new FleetIndex();
    for (const name of ['a', 'b']) fleet.updateNode(name, {});
    fleet.updateNodeMetadata('a', nodeMetadata('a', { maintenance: { phase: 'Draining', eventId: 'E' }, approvals: [{ eventId: 'E', time: '2026-11-22T04:00:00Z' }] } as NodeMetadata['status']));
    fleet.updateNodeMetadata('b', nodeMetadata('b', { maintenance: { phase: 'Draining', eventId: 'E' } } as NodeMetadata['status']));
    expect([...fleet.draining()].sort()).toEqual(['a', 'b']);
    expect(fleet.approvedByOthers('E', 'b')).toBe(true);
    expect(fleet.approvedByOthers('E', 'a')).toBe(false);
    fleet.updateNodeMetadata('a', nodeMetadata('a', { maintenance: { phase: 'Drained', eventId: 'E' } } as NodeMetadata['status']));
    expect([...fleet.draining()]).toEqual(['b']);
    expect(fleet.approvedByOthers('E', 'b')).toBe(false);
    fleet.updateNodeMetadata('b', undefined);
    expect(fleet.draining().size).toBe(0);
  });

  it('keeps each managed node\'s status for the requeue rules, and counts the phases, None for no status', () => {
    const fleet = new FleetIndex();
    for (const name of ['a', 'b', 'c']) fleet.updateNode(name, {});
    fleet.updateNodeMetadata('a', nodeMetadata('a', { maintenance: { phase: 'Cordoned', eventId: 'E' } } as NodeMetadata['status']));
    fleet.updateNodeMetadata('b', nodeMetadata('b', { maintenance: { phase: 'Cordoned', eventId: 'E' } } as NodeMetadata['status']));
    fleet.updateNodeMetadata('orphan', nodeMetadata('orphan', { maintenance: { phase: 'Draining', eventId: 'E' } } as NodeMetadata['status']));
    expect([...fleet.statuses().keys()].sort()).toEqual(['a', 'b']); // no Node: not managed
    expect(fleet.status('a')?.phase).toBe('Cordoned');
    expect(fleet.status('orphan')).toBeUndefined();
    expect(fleet.phaseCounts('None')).toEqual(new Map([['Cordoned', 2], ['None', 1]]));
    fleet.updateNodeMetadata('a', nodeMetadata('a', {} as NodeMetadata['status']));
    fleet.updateNode('b', undefined);
    expect([...fleet.statuses().keys()]).toEqual([]);
    expect(fleet.phaseCounts('None')).toEqual(new Map([['None', 2]]));
  });
});
