// The dry run's pure parts: the simulated writes (the real patches applied to the node), the overlay
// laid over the real node, the sentences of the DryRun Events, and what the status holds
// (dry-run.ts, dry-run-status.ts). The decorator and the reconciler together are tested over the
// fake cluster (test/unit/controller-io/reconciler-dry-run.test.ts).
import { describe, expect, it } from '@jest/globals';
import { Annotations, EXCLUDE_FROM_LOAD_BALANCERS_LABEL, FIELD_MANAGER_CONTROLLER } from '../../../src/api/names.js';
import type { MaintenanceStatus } from '../../../src/api/nodemetadata.js';
import { WriteConflictError, type NodeState } from '../../../src/controller/cache/cluster-state.js';
import { cordonPatch, releasePatch } from '../../../src/controller/decide/cordon.js';
import { applyLabelsTo, describeEvictions, describeNodeChange, DryRunNodes, emptyOverlay, recordChange, withOverlay } from '../../../src/controller/dry-run/dry-run.js';
import { applyJsonPatch } from '../../../src/controller/dry-run/json-patch.js';
import { conditionInDryRun, maintenanceToDecide, maintenanceToStore, stepEvents } from '../../../src/controller/dry-run/dry-run-status.js';
import { ownedLabelKeys } from '../../../src/controller/decide/labels.js';
import { outOfServicePatch } from '../../../src/controller/decide/out-of-service.js';
import { taintsPatch } from '../../../src/controller/decide/taints.js';
import { silentLogger } from '../../../src/observability/logger.js';
import { FakeCluster, RecordingEvents } from '../controller-io/fake-cluster.js';

const REBOOT_TAINT = { key: 'nodemeta.io/scheduled-event', value: 'Reboot', effect: 'NoSchedule' } as const;

function node(init: Partial<NodeState['metadata']> = {}, spec: NodeState['spec'] = {}): NodeState {
  return { metadata: { name: 'n1', resourceVersion: '7', ...init }, spec, ready: true };
}

describe('applyJsonPatch: the patches a real run sends, applied to the node', () => {
  it('cordons with the annotation and the load-balancer exclusion, as cordonPatch says', () => {
    const before = node({ labels: { a: 'b' } });
    const after = applyJsonPatch(before, cordonPatch(before, 'EV-1', { excludeFromLoadBalancers: true }));
    expect(after.spec?.unschedulable).toBe(true);
    expect(after.metadata.annotations).toEqual({ [Annotations.cordoned]: 'EV-1', [Annotations.excludedFromLoadBalancers]: 'true' });
    expect(after.metadata.labels).toEqual({ a: 'b', [EXCLUDE_FROM_LOAD_BALANCERS_LABEL]: 'true' });
    expect(before.spec?.unschedulable).toBeUndefined();
  });

  it('uncordons as the API server stores it: spec.unschedulable left out, not false', () => {
    const cordoned = applyJsonPatch(node(), cordonPatch(node(), 'EV-1', { excludeFromLoadBalancers: false }));
    const released = applyJsonPatch(cordoned, releasePatch(cordoned)!);
    expect(released.spec).toEqual({});
    expect(released.metadata.annotations).toEqual({});
    // And a cordon planned from it passes its `test` of "not cordoned" (null).
    expect(() => applyJsonPatch(released, cordonPatch(released, 'EV-2', { excludeFromLoadBalancers: false }))).not.toThrow();
  });

  it('fails a `test` that no longer holds with the conflict a real 422 gives; a `test` for null is met by a missing path', () => {
    const tainted = node({}, { taints: [{ key: 'other', effect: 'NoSchedule' }] });
    expect(() => applyJsonPatch(tainted, taintsPatch([], [REBOOT_TAINT]))).toThrow(WriteConflictError);
    expect(applyJsonPatch(node(), taintsPatch(undefined, [REBOOT_TAINT])).spec?.taints).toEqual([REBOOT_TAINT]);
    expect(applyJsonPatch(node(), [{ op: 'test', path: '/metadata/annotations/x', value: null }])).toEqual(node());
  });

  it('adds and removes the out-of-service taint with its annotation', () => {
    const added = applyJsonPatch(node(), outOfServicePatch(node(), 'EV-9')!);
    expect(added.spec?.taints).toEqual([{ key: 'node.kubernetes.io/out-of-service', value: 'nodeshutdown', effect: 'NoExecute' }]);
    expect(added.metadata.annotations).toEqual({ [Annotations.outOfService]: 'EV-9' });
    const removed = applyJsonPatch(added, outOfServicePatch(added, undefined)!);
    expect(removed.spec?.taints).toBeUndefined();
  });
});

describe('applyLabelsTo: a server-side apply of the labels', () => {
  it('sets what it applies, removes what it owned and leaves out, owns exactly what it applied, and never touches others', () => {
    const before = node({ labels: { 'kubernetes.io/hostname': 'n1', 'nodemeta.io/zone': 'z1', 'nodemeta.io/priority': 'spot' } });
    const after = applyLabelsTo(before, { 'nodemeta.io/zone': 'z2', 'nodemeta.io/region': 'r' }, new Set(['nodemeta.io/zone', 'nodemeta.io/priority']));
    expect(after.metadata.labels).toEqual({ 'kubernetes.io/hostname': 'n1', 'nodemeta.io/zone': 'z2', 'nodemeta.io/region': 'r' });
    expect([...ownedLabelKeys(after.metadata.managedFields, FIELD_MANAGER_CONTROLLER)].sort()).toEqual(['nodemeta.io/region', 'nodemeta.io/zone']);
  });
});

describe('the overlay: simulated fields laid over the real node', () => {
  it('keeps the simulated fields while the rest of the node follows the cache', () => {
    const real = node({ labels: { a: 'b' } }, { taints: [{ key: 'other', effect: 'NoSchedule' }] });
    const simulated = applyJsonPatch(real, [...taintsPatch(real.spec?.taints, [...real.spec!.taints!, REBOOT_TAINT]), ...cordonPatch(real, 'EV-1', { excludeFromLoadBalancers: false })]);
    const overlay = recordChange(emptyOverlay(), real, simulated);
    // The real node changes elsewhere: another taint, another label, NotReady.
    const later: NodeState = { ...node({ labels: { a: 'b', c: 'd' }, resourceVersion: '8' }, { taints: [{ key: 'other', effect: 'NoSchedule' }, { key: 'third', effect: 'NoExecute' }] }), ready: false };
    const { node: merged } = withOverlay(later, overlay);
    expect(merged.spec?.taints).toEqual([{ key: 'other', effect: 'NoSchedule' }, { key: 'third', effect: 'NoExecute' }, REBOOT_TAINT]);
    expect(merged.spec?.unschedulable).toBe(true);
    expect(merged.metadata.annotations).toEqual({ [Annotations.cordoned]: 'EV-1' });
    expect(merged.metadata.labels).toEqual({ a: 'b', c: 'd' });
    expect(merged.ready).toBe(false);
  });

  it('drops what the real node now agrees with, so a real change that matches ends the simulation of that field', () => {
    const real = node();
    const simulated = applyJsonPatch(real, cordonPatch(real, 'EV-1', { excludeFromLoadBalancers: false }));
    const overlay = recordChange(emptyOverlay(), real, simulated);
    const adminCordoned = node({}, { unschedulable: true });
    const { node: merged, overlay: kept } = withOverlay(adminCordoned, overlay);
    expect(merged.spec?.unschedulable).toBe(true);
    expect(kept.unschedulable).toBeUndefined();
    expect(kept.annotations.get(Annotations.cordoned)).toBe('EV-1');
  });
});

describe('describeNodeChange: one sentence per decision', () => {
  it('says cordon with the annotation that proves it, and the rest of the write', () => {
    const before = node();
    const after = applyJsonPatch(before, [...taintsPatch(undefined, [REBOOT_TAINT]), ...cordonPatch(before, 'EV-1', { excludeFromLoadBalancers: true })]);
    expect(describeNodeChange(before, after)).toBe(
      `cordon (spec.unschedulable, ${Annotations.cordoned}=EV-1); add taint nodemeta.io/scheduled-event=Reboot:NoSchedule; set label ${EXCLUDE_FROM_LOAD_BALANCERS_LABEL}=true; set annotation ${Annotations.excludedFromLoadBalancers}=true`,
    );
    expect(describeNodeChange(after, applyJsonPatch(after, releasePatch(after)!))).toBe(
      `uncordon (spec.unschedulable=false, remove ${Annotations.cordoned}); remove label ${EXCLUDE_FROM_LOAD_BALANCERS_LABEL}; remove annotation ${Annotations.excludedFromLoadBalancers}`,
    );
    expect(describeNodeChange(before, before)).toBeUndefined();
  });

  it('lists labels set and removed', () => {
    const before = node({ labels: { 'nodemeta.io/zone': 'z1', 'nodemeta.io/priority': 'spot' } });
    const after = applyLabelsTo(before, { 'nodemeta.io/zone': 'z2', 'nodemeta.io/region': 'r' }, new Set(['nodemeta.io/zone', 'nodemeta.io/priority']));
    expect(describeNodeChange(before, after)).toBe('set labels nodemeta.io/zone=z2, nodemeta.io/region=r; remove label nodemeta.io/priority');
  });

  it('names the pods a drain would evict, the first ten of them', () => {
    const pods = Array.from({ length: 12 }, (_, i) => ({ namespace: 'default', name: `web-${i}`, gracePeriodSeconds: 30 }));
    expect(describeEvictions(pods.slice(0, 1))).toBe('would evict 1 pod: default/web-0 (grace period up to 30s)');
    expect(describeEvictions(pods)).toMatch(/^would evict 12 pods: default\/web-0, .*default\/web-9, and 2 more \(grace period up to 30s\)$/);
  });
});

describe('the status in dry run', () => {
  const drained: MaintenanceStatus = { phase: 'Drained', eventId: 'EV-1', eventType: 'Reboot', totalPods: 2, evictedPods: 2, pendingPods: 0 };

  it('stores a step it changed marked, with wouldApprove instead of approve, and gives the state machine approve back', () => {
    const stored = maintenanceToStore({ ...drained, approve: 'EV-1' }, drained, true);
    expect(stored).toEqual({ ...drained, wouldApprove: 'EV-1', dryRun: true });
    expect(maintenanceToDecide(stored, true)).toEqual({ ...drained, approve: 'EV-1' });
    // Decided again from it, unchanged: stored as it is.
    expect(maintenanceToStore({ ...drained, approve: 'EV-1' }, stored, true)).toEqual(stored);
  });

  it('leaves a status the dry run did not change as it is: an idle node, a maintenance a real run completed', () => {
    expect(maintenanceToStore({ phase: 'None' }, undefined, true)).toEqual({ phase: 'None' });
    const completed: MaintenanceStatus = { phase: 'Completed', eventId: 'EV-0', eventType: 'Reboot' };
    expect(maintenanceToStore(completed, completed, true)).toEqual(completed);
  });

  it('ignores an approve it did not ask for, and withdraws its own real one', () => {
    const real: MaintenanceStatus = { ...drained, approve: 'EV-1' };
    expect(maintenanceToDecide(real, true)).toEqual(drained);
  });

  it('in a real run, a status a dry run wrote counts for nothing: an event still announced starts over', () => {
    const announced = { announced: new Set(['EV-1']), nodemetaHoldsNode: false };
    expect(maintenanceToDecide({ ...drained, dryRun: true, wouldApprove: 'EV-1' }, false, announced)).toBeUndefined();
    expect(maintenanceToDecide({ ...drained, dryRun: true }, false, { ...announced, nodemetaHoldsNode: true })).toBeUndefined();
    expect(maintenanceToDecide(drained, false, announced)).toBe(drained);
    expect(maintenanceToStore({ ...drained, approve: 'EV-1' }, { ...drained, dryRun: true }, false)).toEqual({ ...drained, approve: 'EV-1' });
  });

  it('in a real run, an event a dry run saw end leaves nothing to do, unless the Node holds a real run\'s cordon from before: then it is finished for real', () => {
    const gone = { announced: new Set<string>(), nodemetaHoldsNode: false };
    const completed: MaintenanceStatus = { phase: 'Completed', eventId: 'EV-1', eventType: 'Reboot', notBefore: '2026-11-22T04:15:00Z', completedTime: '2026-11-22T04:20:00Z' };
    expect(maintenanceToDecide({ ...completed, dryRun: true }, false, gone)).toEqual(completed);
    expect(maintenanceToDecide({ ...drained, dryRun: true }, false, gone)).toBeUndefined();
    const holding = { ...gone, nodemetaHoldsNode: true };
    const scheduled = { phase: 'Scheduled', eventId: 'EV-1', eventType: 'Reboot', notBefore: '2026-11-22T04:15:00Z' };
    expect(maintenanceToDecide({ ...completed, dryRun: true }, false, holding)).toEqual(scheduled);
    expect(maintenanceToDecide({ ...drained, notBefore: '2026-11-22T04:15:00Z', dryRun: true }, false, holding)).toEqual(scheduled);
    // A completed event back in the metadata is a glitch, as after a real run.
    expect(maintenanceToDecide({ ...completed, dryRun: true }, false, { announced: new Set(['EV-1']), nodemetaHoldsNode: true })).toEqual(completed);
  });

  it('turns a condition that claims something was done into one that says a real run would claim it', () => {
    expect(conditionInDryRun({ type: 'Labeled', status: 'True', reason: 'LabelsApplied', message: '6 labels applied' })).toEqual({
      type: 'Labeled',
      status: 'False',
      reason: 'DryRun',
      message: 'dry run: a real run would report LabelsApplied: 6 labels applied',
    });
    const invalid = { type: 'Labeled', status: 'False', reason: 'InvalidLabels', message: 'skipped 1' } as const;
    expect(conditionInDryRun(invalid)).toBe(invalid);
  });

  it('marks the transitions and tells the approval requests a real run would make', () => {
    const actions = [
      { kind: 'RequestApproval', eventId: 'EV-1' },
      { kind: 'Emit', type: 'Normal', reason: 'ApprovalRequested', message: 'Reboot EV-1: every node in the event\'s Resources is drained' },
    ] as const;
    expect(stepEvents(actions, true, undefined)).toEqual([
      { type: 'Normal', reason: 'DryRun', message: expect.stringMatching(/^would ask the agent to approve EV-1 /) },
      { type: 'Normal', reason: 'ApprovalRequested', message: '[dry run] Reboot EV-1: every node in the event\'s Resources is drained' },
    ]);
    expect(stepEvents([{ kind: 'ClearApprovalRequest' }], true, 'EV-1')).toEqual([{ type: 'Normal', reason: 'DryRun', message: 'would withdraw the request to approve EV-1' }]);
    expect(stepEvents(actions, false, undefined)).toEqual([{ type: 'Normal', reason: 'ApprovalRequested', message: actions[1].message }]);
  });
});

describe('DryRunNodes', () => {
  it('passes everything through to the real writer while dry run is off, and simulates while it is on', async () => {
    const cluster = new FakeCluster();
    cluster.addNode('n1');
    cluster.addPods('n1', ['web-1', 'web-2']);
    let enabled = true;
    const events = new RecordingEvents();
    const dryRun = new DryRunNodes({ cache: cluster, writer: cluster, enabled: () => enabled, events, logger: silentLogger() });

    const seen = dryRun.cache.node('n1')!;
    expect(seen.metadata.resourceVersion).toBe('1+dry-run');
    const cordoned = await dryRun.writer.cordon(seen, 'EV-1', { excludeFromLoadBalancers: false });
    expect(cordoned.spec?.unschedulable).toBe(true);
    expect((await dryRun.writer.readNode('n1'))?.spec?.unschedulable).toBe(true);
    const [web1] = dryRun.cache.podsOn('n1')!;
    expect(await dryRun.writer.evictPod({ namespace: 'default', name: web1!.name, uid: web1!.uid, gracePeriodSeconds: 30 })).toEqual({ kind: 'evicted' });
    expect(dryRun.cache.podsOn('n1')!.map((pod) => pod.name)).toEqual(['web-2']);
    // A deletion at the deadline (atDeadline: Delete) is not sent either; the pod counts as gone.
    const [web2] = dryRun.cache.podsOn('n1')!;
    expect(await dryRun.writer.deletePod({ namespace: 'default', name: web2!.name, uid: web2!.uid, gracePeriodSeconds: 20 })).toEqual({ kind: 'deleted' });
    expect(dryRun.cache.podsOn('n1')).toEqual([]);
    expect(cluster.deleted).toEqual([]);
    expect(cluster.writes).toEqual([]);
    expect(events.events.map((event) => [event.reason, event.message])).toEqual([['DryRun', `would cordon (spec.unschedulable, ${Annotations.cordoned}=EV-1)`]]);

    enabled = false;
    expect(dryRun.cache.node('n1')?.spec?.unschedulable).toBeUndefined();
    expect(dryRun.cache.podsOn('n1')!.map((pod) => pod.name)).toEqual(['web-1', 'web-2']);
    await dryRun.writer.cordon(dryRun.cache.node('n1')!, 'EV-1', { excludeFromLoadBalancers: false });
    expect(cluster.writes.map((write) => write.kind)).toEqual(['cordon']);
    expect(cluster.cordonOf('n1')).toEqual({ unschedulable: true, cordonedFor: 'EV-1' });
  });
});
