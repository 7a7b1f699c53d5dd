// docs/maintenance.md, "Other controllers on the node": recognising other drainers by their marks
// (decide/other-drainers.ts), and what the maintenance state machine does while they act.
import { describe, expect, test } from '@jest/globals';
import type { MaintenanceStatus } from '../../../src/api/nodemetadata.js';
import type { NodeState } from '../../../src/controller/cache/node-state.js';
import { mayCordon, otherDrainerOn, uncordonedByOther } from '../../../src/controller/decide/other-drainers.js';
import { planAction, rulesFor, type PlannedAction } from '../../../src/controller/decide/policy.js';
import { missingProtection } from '../../../src/controller/decide/protection.js';
import { planDrain, type DrainPod } from '../../../src/controller/maintenance/drain-plan.js';
import { idleStep, nextMaintenanceStep, type MaintenanceInput, type NodeScheduling } from '../../../src/controller/maintenance/state-machine.js';
import { nodeScheduling } from '../../../src/controller/reconcile/controller-status.js';
import { configOf as config } from '../controller/config-of.js';
import { kinds, maintenanceInput } from './maintenance-input.js';

const now = new Date('2026-11-22T04:00:00.000Z');
const at = (minutes: number) => new Date(now.getTime() + minutes * 60_000).toISOString().replace(/\.\d{3}Z$/, 'Z');
const defaults = config();

function node(extra: { taints?: string[]; annotations?: Record<string, string>; unschedulable?: boolean; labels?: Record<string, string> } = {}): NodeState {
  return {
    metadata: { name: 'n1', annotations: extra.annotations ?? {}, labels: extra.labels ?? {} },
    spec: { taints: (extra.taints ?? []).map((key) => ({ key, effect: 'NoSchedule' as const })), unschedulable: extra.unschedulable ?? false },
    ready: true,
  };
}

const plan = (): PlannedAction => planAction({ id: 'E1', type: 'Reboot', notBefore: at(15), started: false }, rulesFor(defaults.policy, 'azure'), now)!;
const pod = (name: string): DrainPod => ({ namespace: 'default', name, uid: `uid-${name}`, ownerKinds: ['ReplicaSet'], phase: 'Running', terminationGracePeriodSeconds: 30 });
const status = (phase: MaintenanceStatus['phase'], extra: Partial<MaintenanceStatus> = {}): MaintenanceStatus => ({ phase, eventId: 'E1', eventType: 'Reboot', notBefore: at(15), ...extra });
function input(scheduling: NodeScheduling, overrides: Partial<MaintenanceInput> = {}): MaintenanceInput {
  return maintenanceInput({ current: status('Scheduled'), active: plan(), node: scheduling, pods: planDrain([pod('a'), pod('b')], defaults.drain, now, undefined), config: defaults, now, ...overrides });
}

const ofNode = (n: NodeState) => nodeScheduling(n);

describe('other drainers, by their marks', () => {
  test.each<[string, NodeState, string | undefined, string | undefined]>([
    ['AKS node auto-drain', node({ taints: ['remediator.kubernetes.azure.com/unschedulable'], unschedulable: true }), 'aks-remediator', 'drains'],
    ['Karpenter disrupting', node({ taints: ['karpenter.sh/disrupted'] }), 'karpenter', 'drains'],
    ['the cluster autoscaler deleting', node({ taints: ['ToBeDeletedByClusterAutoscaler'] }), 'cluster-autoscaler', 'deletes'],
    ['kured rebooting', node({ annotations: { 'weave.works/kured-reboot-in-progress': '2026-11-22T03:59:00Z' }, unschedulable: true }), 'kured', 'drains'],
    ['a cordon nobody recorded', node({ unschedulable: true }), 'unrecorded-cordon', 'cordons'],
    ["nodemeta's own cordon", node({ unschedulable: true, annotations: { 'nodemeta.io/cordoned': 'E1' } }), undefined, undefined],
    ['the autoscaler ranks first', node({ taints: ['karpenter.sh/disrupted', 'ToBeDeletedByClusterAutoscaler'] }), 'cluster-autoscaler', 'deletes'],
    ['nothing', node(), undefined, undefined],
  ])('%s', (_name, n, name, role) => {
    expect(otherDrainerOn(n)?.name).toBe(name);
    expect(otherDrainerOn(n)?.role).toBe(role);
  });

  test('a node someone uncordoned under nodemeta\'s cordon, or one the autoscaler deletes, is not cordoned again', () => {
    const uncordoned = node({ annotations: { 'nodemeta.io/cordoned': 'E1' } });
    expect(uncordonedByOther(uncordoned)).toBe(true);
    expect(mayCordon(uncordoned)).toBe(false);
    expect(mayCordon(node({ taints: ['ToBeDeletedByClusterAutoscaler'] }))).toBe(false);
    expect(mayCordon(node({ taints: ['karpenter.sh/disrupted'] }))).toBe(true);
    expect(mayCordon(node())).toBe(true);
  });
});

describe('the state machine while another drainer acts', () => {
  test('kured drains: nodemeta starts its drain without evicting, and says who acts', () => {
    const kured = ofNode(node({ annotations: { 'weave.works/kured-reboot-in-progress': 'x' }, unschedulable: true }));
    const step = nextMaintenanceStep(input(kured));
    expect(step.status).toMatchObject({ phase: 'Draining', otherDrainer: 'kured', pendingPods: 2 });
    expect(kinds(step)).toEqual(['Emit:DrainStarted', 'Emit:OtherDrainerActing']);
    // Its cordon is kured's: no Cordon of nodemeta's; and the next step evicts nothing either.
    const next = nextMaintenanceStep(input(kured, { current: step.status }));
    expect(kinds(next)).toEqual([]);
  });

  test('the drain under way stops evicting when AKS node auto-drain starts, and approves once the node is empty', () => {
    const aks = ofNode(node({ taints: ['remediator.kubernetes.azure.com/unschedulable'], unschedulable: true, annotations: { 'nodemeta.io/cordoned': 'E1' } }));
    const draining = status('Draining', { startedTime: at(0), totalPods: 2, pendingPods: 2, evictedPods: 0 });
    const step = nextMaintenanceStep(input(aks, { current: draining }));
    expect(kinds(step)).toEqual(['Emit:OtherDrainerActing']);
    const empty = nextMaintenanceStep(input(aks, { current: step.status, pods: planDrain([], defaults.drain, now, undefined) }));
    expect(empty.status.phase).toBe('Drained');
    const ask = nextMaintenanceStep(input(aks, { current: empty.status, pods: planDrain([], defaults.drain, now, undefined), approval: { resourcesDrained: true, approvedEventIds: [] } }));
    expect(kinds(ask)).toEqual(['RequestApproval', 'Emit:ApprovalRequested']);
  });

  test('the event over while the other drainer still acts: nodemeta keeps its cordon until the mark is gone', () => {
    const held = node({ taints: ['karpenter.sh/disrupted'], unschedulable: true, annotations: { 'nodemeta.io/cordoned': 'E1' } });
    const waiting = nextMaintenanceStep(input(ofNode(held), { current: status('Approved', { otherDrainer: 'karpenter' }), active: undefined }));
    expect(waiting.status.phase).toBe('Approved');
    expect(kinds(waiting)).toEqual([]);
    const gone = nextMaintenanceStep(input(ofNode(node({ unschedulable: true, annotations: { 'nodemeta.io/cordoned': 'E1' } })), { current: waiting.status, active: undefined }));
    expect(gone.status.phase).toBe('Completed');
    expect(gone.status.otherDrainer).toBeUndefined();
    expect(kinds(gone)).toEqual(['Uncordon', 'Emit:MaintenanceCompleted']);
  });

  test('the cluster autoscaler deletes the node: no cordon, no eviction, no approval; a request already made is withdrawn', () => {
    const deleting = ofNode(node({ taints: ['ToBeDeletedByClusterAutoscaler'] }));
    const step = nextMaintenanceStep(input(deleting));
    expect(step.status).toMatchObject({ phase: 'Scheduled', otherDrainer: 'cluster-autoscaler' });
    expect(kinds(step)).toEqual(['Emit:OtherDrainerActing']);
    expect(kinds(nextMaintenanceStep(input(deleting, { current: step.status })))).toEqual([]);
    const requested = status('Drained', { approve: 'E1', otherDrainer: 'cluster-autoscaler' });
    const withdrawn = nextMaintenanceStep(input(deleting, { current: requested, pods: planDrain([], defaults.drain, now, undefined), approval: { resourcesDrained: true, approvedEventIds: [] } }));
    expect(withdrawn.status.approve).toBeUndefined();
    expect(kinds(withdrawn)).toEqual(['ClearApprovalRequest', 'Emit:ApprovalWithdrawn']);
    // The fast path does not cordon it either (it still adds the notice taint).
    const nmd = { metadata: { name: 'n1' }, status: { provider: 'azure', observedTime: at(0), events: [{ id: 'E1', type: 'Reboot', status: 'Scheduled', notBefore: at(15), resources: [], source: 'Platform' }] } };
    const protection = missingProtection(node({ taints: ['ToBeDeletedByClusterAutoscaler'] }), nmd as never, defaults, now);
    expect(protection?.cordonFor).toBeUndefined();
  });

  test('someone uncordons the node nodemeta cordoned: one Warning, recorded, no cordon back; the drain goes on', () => {
    const uncordoned = ofNode(node({ annotations: { 'nodemeta.io/cordoned': 'E1' } }));
    const draining = status('Draining', { startedTime: at(0), totalPods: 2, pendingPods: 2, evictedPods: 0 });
    const step = nextMaintenanceStep(input(uncordoned, { current: draining }));
    expect(step.status.uncordonedTime).toBe(at(0));
    expect(kinds(step)).toEqual(['EvictPods', 'Emit:UncordonedByOther']);
    const again = nextMaintenanceStep(input(uncordoned, { current: step.status, evictions: [{ uid: 'uid-a', attempts: 1, lastAttemptMs: now.getTime() }, { uid: 'uid-b', attempts: 1, lastAttemptMs: now.getTime() }] }));
    expect(kinds(again)).toEqual([]);
    // Once the maintenance is over the annotation goes (a release: nothing else to lift).
    const over = nextMaintenanceStep(input(uncordoned, { current: status('Approved', { uncordonedTime: at(0) }), active: undefined }));
    expect(kinds(over)).toEqual(['Uncordon', 'Emit:MaintenanceCompleted']);
  });

  test('an idle node reports who acts on it, and gives back a mark of nodemeta\'s left on a node in service', () => {
    expect(idleStep(undefined, ofNode(node({ unschedulable: true })), true).status).toEqual({ phase: 'None', otherDrainer: 'unrecorded-cordon' });
    expect(kinds(idleStep(undefined, ofNode(node({ unschedulable: true })), true))).toEqual([]);
    expect(kinds(idleStep(undefined, ofNode(node({ annotations: { 'nodemeta.io/cordoned': 'E0' } })), true))).toEqual(['Uncordon']);
  });
});

describe('policy.nodeGroups', () => {
  test('by default every node is drained, Karpenter-provisioned ones too (Karpenter on AKS acts on Preempt only, and its taint makes nodemeta step back then)', () => {
    expect(defaults.policy.nodeGroups).toEqual([]);
    expect(rulesFor(defaults.policy, 'azure', undefined, { 'karpenter.sh/nodepool': 'default' }).Reboot.action).toBe('Drain');
    expect(rulesFor(defaults.policy, 'azure', undefined, { agentpool: 'nodepool1' }).Reboot.action).toBe('Drain');
  });

  test('the first group that matches decides; [] drains every node', () => {
    const cfg = config(`policy:
  nodeGroups:
    - {name: batch, nodeSelector: {matchLabels: {karpenter.sh/nodepool: batch}}, drain: Enabled}
    - {name: karpenter, nodeSelector: {matchExpressions: [{key: karpenter.sh/nodepool, operator: Exists}]}, drain: Disabled}
`);
    expect(rulesFor(cfg.policy, 'azure', undefined, { 'karpenter.sh/nodepool': 'batch' }).Reboot.action).toBe('Drain');
    expect(rulesFor(cfg.policy, 'azure', undefined, { 'karpenter.sh/nodepool': 'general' }).Reboot.action).toBe('Taint');
    expect(rulesFor(config('policy: {nodeGroups: []}').policy, 'azure', undefined, { 'karpenter.sh/nodepool': 'general' }).Reboot.action).toBe('Drain');
  });
});
