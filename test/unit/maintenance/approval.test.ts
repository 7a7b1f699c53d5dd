import { describe, expect, test } from '@jest/globals';
import type { MaintenancePhase, MaintenanceStatus } from '../../../src/api/nodemetadata.js';
import { approvalReady, azureVmName, vmIndex } from '../../../src/controller/maintenance/approval.js';

const event = { id: 'E1', resources: ['aks-pool1-12345678-vmss_3', 'aks-pool1-12345678-vmss_4'] };
const index = vmIndex([
  { nodeName: 'aks-pool1-12345678-vmss000003', vmName: 'aks-pool1-12345678-vmss_3' },
  { nodeName: 'aks-pool1-12345678-vmss000004', vmName: 'aks-pool1-12345678-vmss_4' },
  { nodeName: 'aks-pool1-12345678-vmss000005', vmName: 'aks-pool1-12345678-vmss_5' },
]);

function phases(entries: Record<string, [MaintenancePhase, string] | undefined>): Map<string, MaintenanceStatus | undefined> {
  return new Map(Object.entries(entries).map(([node, value]) => [node, value === undefined ? undefined : { phase: value[0], eventId: value[1] }]));
}

describe('approvalReady', () => {
  test.each<[string, Record<string, [MaintenancePhase, string] | undefined>, boolean]>([
    ['both named nodes Drained', { 'aks-pool1-12345678-vmss000003': ['Drained', 'E1'], 'aks-pool1-12345678-vmss000004': ['Drained', 'E1'] }, true],
    ['one Drained, one Approved (later)', { 'aks-pool1-12345678-vmss000003': ['Drained', 'E1'], 'aks-pool1-12345678-vmss000004': ['Approved', 'E1'] }, true],
    ['a neighbour still Draining', { 'aks-pool1-12345678-vmss000003': ['Drained', 'E1'], 'aks-pool1-12345678-vmss000004': ['Draining', 'E1'] }, false],
    ['a neighbour only Cordoned (waiting for budget)', { 'aks-pool1-12345678-vmss000003': ['Drained', 'E1'], 'aks-pool1-12345678-vmss000004': ['Cordoned', 'E1'] }, false],
    ['a neighbour Failed', { 'aks-pool1-12345678-vmss000003': ['Drained', 'E1'], 'aks-pool1-12345678-vmss000004': ['Failed', 'E1'] }, false],
    ['a neighbour Drained for another event', { 'aks-pool1-12345678-vmss000003': ['Drained', 'E1'], 'aks-pool1-12345678-vmss000004': ['Drained', 'E2'] }, false],
    ['a neighbour Completed (uncordoned, may run pods again)', { 'aks-pool1-12345678-vmss000003': ['Drained', 'E1'], 'aks-pool1-12345678-vmss000004': ['Completed', 'E1'] }, false],
    ['a neighbour with no maintenance status yet', { 'aks-pool1-12345678-vmss000003': ['Drained', 'E1'], 'aks-pool1-12345678-vmss000004': undefined }, false],
  ])('%s → %s', (_name, entries, expected) => {
    expect(approvalReady(event, index, phases(entries))).toBe(expected);
  });

  test('a VM that is not a cluster node does not hold the approval up', () => {
    const withStranger = { id: 'E1', resources: ['aks-pool1-12345678-vmss_3', 'some-other-vm'] };
    expect(approvalReady(withStranger, index, phases({ 'aks-pool1-12345678-vmss000003': ['Drained', 'E1'] }))).toBe(true);
  });

  test('VM names compare without regard to case (as Azure does)', () => {
    const upper = { id: 'E1', resources: ['AKS-POOL1-12345678-VMSS_3'] };
    expect(approvalReady(upper, index, phases({ 'aks-pool1-12345678-vmss000003': ['Drained', 'E1'] }))).toBe(true);
  });

  test('no Resources entry is a cluster node: never approved', () => {
    expect(approvalReady({ id: 'E1', resources: ['elsewhere'] }, index, phases({}))).toBe(false);
    expect(approvalReady({ id: 'E1', resources: [] }, index, phases({}))).toBe(false);
  });

  test('while a managed node has not reported its VM name, nothing is approved (it might be in Resources)', () => {
    const partial = vmIndex([
      { nodeName: 'aks-pool1-12345678-vmss000003', vmName: 'aks-pool1-12345678-vmss_3' },
      { nodeName: 'new-node', vmName: undefined },
    ]);
    expect(partial.unmapped).toEqual(['new-node']);
    expect(approvalReady({ id: 'E1', resources: ['aks-pool1-12345678-vmss_3', 'unknown-vm'] }, partial, phases({ 'aks-pool1-12345678-vmss000003': ['Drained', 'E1'] }))).toBe(false);
  });
});

describe('azureVmName', () => {
  test.each([
    ['azure:///subscriptions/0000/resourceGroups/mc_rg_aks_westeurope/providers/Microsoft.Compute/virtualMachineScaleSets/aks-pool1-12345678-vmss/virtualMachines/3', 'aks-pool1-12345678-vmss_3'],
    ['azure:///subscriptions/0000/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/aks-agentpool-1-0', 'aks-agentpool-1-0'],
    ['AZURE:///subscriptions/0000/resourceGroups/rg/providers/Microsoft.Compute/VirtualMachineScaleSets/akswin/VirtualMachines/12', 'akswin_12'],
  ])('%s names VM %s', (providerID, vm) => {
    expect(azureVmName(providerID)).toBe(vm);
  });

  test.each([undefined, '', 'alicloud://cn-hangzhou.i-bp1', 'kwok://node-1', 'azure:///subscriptions/0000/resourceGroups/rg'])('%s names no Azure VM', (providerID) => {
    expect(azureVmName(providerID)).toBeUndefined();
  });
});
