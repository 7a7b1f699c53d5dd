// The fleet-wide facts a node's maintenance step needs, kept up to date by the informers' events
// instead of recomputed from every node on every reconcile: which nodes drain (the budget), which
// node runs which Azure VM (approvals name VMs), and which events an agent has approved. At 5,000
// nodes a pass over the whole fleet per reconcile made a wave quadratic; here each informer event
// costs O(1) and each question O(1) or O(what it names).

import type { MaintenanceStatus, NodeMetadata } from '../../api/nodemetadata.js';
import { MaintenancePhase } from '../../api/nodemetadata.js';
import { azureVmName, type VmIndex } from '../maintenance/approval.js';

interface Member {
  /** The Node exists (and matches the node selector): it is managed. */
  managed: boolean;
  /** The VM name its agent reported (status.instance.name), else the one its providerID names. */
  agentVm?: string | undefined;
  providerVm?: string | undefined;
  status?: MaintenanceStatus | undefined;
  approvals: readonly string[];
}

/** What a maintenance step asks of the fleet (the reconciler's view; FleetIndex answers it). */
export type FleetView = Pick<FleetIndex, 'managedCount' | 'draining' | 'vmIndex' | 'approvedByOthers'>;

export class FleetIndex {
  private readonly members = new Map<string, Member>();
  private readonly nodesByVmName = new Map<string, string>();
  private readonly unmapped = new Set<string>();
  private readonly drainingNodes = new Set<string>();
  private readonly managedStatuses = new Map<string, MaintenanceStatus>();
  private readonly approvers = new Map<string, Set<string>>();

  /** A Node was added or changed (`providerID`), or deleted (undefined). */
  updateNode(name: string, node: { providerID?: string | undefined } | undefined): void {
    this.update(name, (member) => {
      member.managed = node !== undefined;
      member.providerVm = node === undefined ? undefined : azureVmName(node.providerID);
    });
  }

  /** A NodeMetadata was added or changed, or deleted (undefined). */
  updateNodeMetadata(name: string, nodeMetadata: NodeMetadata | undefined): void {
    this.update(name, (member) => {
      member.agentVm = nodeMetadata?.status?.instance?.name;
      member.status = nodeMetadata?.status?.maintenance;
      member.approvals = (nodeMetadata?.status?.approvals ?? []).map((approval) => approval.eventId);
    });
  }

  /** How many nodes are managed. */
  managedCount(): number {
    let count = 0;
    for (const member of this.members.values()) if (member.managed) count++;
    return count;
  }

  /** Managed nodes in phase Draining. */
  draining(): ReadonlySet<string> {
    return this.drainingNodes;
  }

  /** Which managed node runs which VM, and which managed nodes name none (approval.ts). */
  vmIndex(): VmIndex {
    return { nodesByVmName: this.nodesByVmName, unmapped: [...this.unmapped] };
  }

  /** Whether the agent of any managed node other than `except` approved `eventId`. */
  approvedByOthers(eventId: string, except: string): boolean {
    const nodes = this.approvers.get(eventId);
    return nodes !== undefined && [...nodes].some((node) => node !== except);
  }

  /** A managed node's maintenance status, as the informers show it. */
  status(name: string): MaintenanceStatus | undefined {
    return this.managedStatuses.get(name);
  }

  /** Each managed node's maintenance status (kept, not built per call: requeue-rules.ts reads it on every change). */
  statuses(): ReadonlyMap<string, MaintenanceStatus> {
    return this.managedStatuses;
  }

  /** Managed nodes by maintenance phase, `None` for those with no maintenance status (a metric). */
  phaseCounts(noPhase: string): Map<string, number> {
    const counts = new Map<string, number>();
    for (const member of this.members.values()) {
      if (!member.managed) continue;
      const phase = member.status?.phase ?? noPhase;
      counts.set(phase, (counts.get(phase) ?? 0) + 1);
    }
    return counts;
  }

  private update(name: string, change: (member: Member) => void): void {
    const member = this.members.get(name) ?? { managed: false, approvals: [] };
    this.forgetContributions(name, member);
    change(member);
    if (!member.managed && member.agentVm === undefined && member.status === undefined && member.approvals.length === 0) {
      this.members.delete(name);
      return;
    }
    this.members.set(name, member);
    this.addContributions(name, member);
  }

  private forgetContributions(name: string, member: Member): void {
    const vm = vmOf(member);
    if (vm !== undefined && this.nodesByVmName.get(vm) === name) this.nodesByVmName.delete(vm);
    this.unmapped.delete(name);
    this.drainingNodes.delete(name);
    this.managedStatuses.delete(name);
    for (const eventId of member.approvals) {
      const nodes = this.approvers.get(eventId);
      nodes?.delete(name);
      if (nodes?.size === 0) this.approvers.delete(eventId);
    }
  }

  private addContributions(name: string, member: Member): void {
    if (!member.managed) return;
    const vm = vmOf(member);
    if (vm === undefined) this.unmapped.add(name);
    else this.nodesByVmName.set(vm, name);
    if (member.status !== undefined) this.managedStatuses.set(name, member.status);
    if (member.status?.phase === MaintenancePhase.Draining) this.drainingNodes.add(name);
    for (const eventId of member.approvals) {
      let nodes = this.approvers.get(eventId);
      if (nodes === undefined) {
        nodes = new Set();
        this.approvers.set(eventId, nodes);
      }
      nodes.add(name);
    }
  }
}

/** Azure compares VM names without regard to case (approval.ts). */
function vmOf(member: Member): string | undefined {
  const vm = member.agentVm !== undefined && member.agentVm !== '' ? member.agentVm : member.providerVm;
  return vm === undefined || vm === '' ? undefined : vm.toLowerCase();
}
