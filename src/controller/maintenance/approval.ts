// When the controller may ask the agent to approve an Azure scheduled event.
//
// Approving (POST StartRequests) starts the maintenance for every VM in the event's Resources at
// once, not only the VM that approves (Azure Scheduled Events: "approval starts the event for all
// resources"). So the event may be approved only when every cluster node it names is drained.
//
// Mapping Resources to nodes: Resources holds Azure VM names (`aks-pool1-12345678-vmss_3`), which
// are not Kubernetes node names (`aks-pool1-12345678-vmss000003`). Each agent reports its own VM's
// name (IMDS compute.name) in NodeMetadata `status.instance.name`; that is the link nodemeta trusts
// first. A node whose agent has not reported yet is mapped through its providerID (azureVmName),
// which AKS sets when the node registers. Azure compares VM names without regard to case, and so
// does this.
//
// A Resources entry no cluster node reports: it is another VM in the same availability set or
// scale set that is not in this cluster (or not managed by nodemeta). It is not ours to drain, and
// waiting for it would wait forever, so it does not hold up the approval. But that is only safe when
// the mapping is complete: while some managed node has neither reported its VM name nor has a
// providerID that names one, an unknown name might be that node, so nothing is approved (the event
// then simply starts at NotBefore).
//
// "Drained or later" means the peer handles this very event and is Drained or Approved. Completed is
// not enough: a completed node has been uncordoned and may run pods again.

import { MaintenancePhase, type MaintenanceStatus } from '../../api/nodemetadata.js';

export interface ApprovableEvent {
  id: string;
  /** Azure VM names. */
  resources: readonly string[];
}

/** Which node runs which VM, built from every NodeMetadata's status.instance.name (vmIndex). */
export interface VmIndex {
  /** Lower-cased VM name → node name. */
  nodesByVmName: ReadonlyMap<string, string>;
  /** Managed nodes whose agent has not reported a VM name yet. */
  unmapped: readonly string[];
}

/**
 * The Azure VM name a node's providerID names, for nodes whose agent has not reported one (a new
 * node, or a Windows pool the Linux-only DaemonSet does not cover). AKS writes
 * `azure:///subscriptions/…/virtualMachineScaleSets/<scale set>/virtualMachines/<instance id>` for
 * scale-set VMs, whose VM name is `<scale set>_<instance id>`, and
 * `azure:///subscriptions/…/virtualMachines/<name>` for availability-set VMs.
 */
export function azureVmName(providerID: string | undefined): string | undefined {
  if (providerID === undefined || !providerID.toLowerCase().startsWith('azure://')) return undefined;
  const scaleSet = /\/virtualMachineScaleSets\/([^/]+)\/virtualMachines\/([^/]+)$/i.exec(providerID);
  if (scaleSet !== null) return `${scaleSet[1]}_${scaleSet[2]}`;
  const single = /\/virtualMachines\/([^/]+)$/i.exec(providerID);
  return single === null ? undefined : single[1];
}

export function vmIndex(nodes: readonly { nodeName: string; vmName: string | undefined }[]): VmIndex {
  const nodesByVmName = new Map<string, string>();
  const unmapped: string[] = [];
  for (const { nodeName, vmName } of nodes) {
    if (vmName === undefined || vmName === '') unmapped.push(nodeName);
    else nodesByVmName.set(vmName.toLowerCase(), nodeName);
  }
  return { nodesByVmName, unmapped };
}

/** The node is empty and waits for the platform: drained, or drained and approved (not Completed, which is later). */
export const DRAINED_PHASES: readonly MaintenancePhase[] = [MaintenancePhase.Drained, MaintenancePhase.Approved];

/**
 * True only when every Resources entry that maps to a cluster node names a node that is Drained or
 * Approved for this event, at least one entry maps to a cluster node, and every managed node's VM
 * name is known. `phases` holds each node's status.maintenance (missing: not handling anything).
 */
export function approvalReady(event: ApprovableEvent, index: VmIndex, phases: ReadonlyMap<string, MaintenanceStatus | undefined>): boolean {
  if (index.unmapped.length > 0) return false;
  const nodes = event.resources.map((vm) => index.nodesByVmName.get(vm.toLowerCase())).filter((node) => node !== undefined);
  if (nodes.length === 0) return false;
  return nodes.every((node) => {
    const maintenance = phases.get(node);
    return maintenance?.eventId === event.id && DRAINED_PHASES.includes(maintenance.phase);
  });
}
