import { describe, expect, it } from '@jest/globals';
import { cordonPatch, heldByNodemeta, releasePatch } from '../../../src/controller/decide/cordon.js';
import type { NodeState } from '../../../src/controller/cache/cluster-state.js';
import { WriteConflictError } from '../../../src/controller/cache/cluster-state.js';
import { applyJsonPatch as applyPatch } from '../../../src/controller/dry-run/json-patch.js';

const LB = 'node.kubernetes.io/exclude-from-external-load-balancers';
const EXCLUDED = 'nodemeta.io/excluded-from-load-balancers';

function node(labels?: Record<string, string>, annotations?: Record<string, string>, unschedulable = false): NodeState {
  return { metadata: { name: 'n1', ...(labels ? { labels } : {}), ...(annotations ? { annotations } : {}) }, spec: unschedulable ? { unschedulable } : {} };
}

describe('cordonPatch and releasePatch', () => {
  it('cordons with the load-balancer exclusion and gives both back in one release', () => {
    const start = node({ 'kubernetes.io/hostname': 'n1' }, { other: 'x' });
    const cordoned = applyPatch(start, cordonPatch(start, 'ev-1', { excludeFromLoadBalancers: true }));
    expect(cordoned.spec?.unschedulable).toBe(true);
    expect(cordoned.metadata.labels).toEqual({ 'kubernetes.io/hostname': 'n1', [LB]: 'true' });
    expect(cordoned.metadata.annotations).toEqual({ other: 'x', 'nodemeta.io/cordoned': 'ev-1', [EXCLUDED]: 'true' });
    expect(heldByNodemeta(cordoned)).toEqual({ cordonedFor: 'ev-1', excludedFromLoadBalancers: true });

    const released = applyPatch(cordoned, releasePatch(cordoned)!);
    expect(released.spec?.unschedulable ?? false).toBe(false);
    expect(released.metadata.labels).toEqual({ 'kubernetes.io/hostname': 'n1' });
    expect(released.metadata.annotations).toEqual({ other: 'x' });
    expect(releasePatch(released)).toBeUndefined();
  });

  it('writes the maps when the node has no labels or annotations at all', () => {
    const bare = node();
    const cordoned = applyPatch(bare, cordonPatch(bare, 'ev-1', { excludeFromLoadBalancers: true }));
    expect(cordoned.metadata.labels).toEqual({ [LB]: 'true' });
    expect(cordoned.metadata.annotations).toEqual({ 'nodemeta.io/cordoned': 'ev-1', [EXCLUDED]: 'true' });
  });

  it('leaves a label someone else set: not claimed at the cordon, not removed at the release', () => {
    const start = node({ [LB]: 'yes' });
    const cordoned = applyPatch(start, cordonPatch(start, 'ev-1', { excludeFromLoadBalancers: true }));
    expect(cordoned.metadata.annotations).toEqual({ 'nodemeta.io/cordoned': 'ev-1' });
    const released = applyPatch(cordoned, releasePatch(cordoned)!);
    expect(released.metadata.labels).toEqual({ [LB]: 'yes' });
  });

  it('keeps a label someone changed while the node drained, and drops only nodemeta\'s claim on it', () => {
    const start = node({});
    const cordoned = applyPatch(start, cordonPatch(start, 'ev-1', { excludeFromLoadBalancers: true }));
    cordoned.metadata.labels![LB] = 'permanent';
    const released = applyPatch(cordoned, releasePatch(cordoned)!);
    expect(released.metadata.labels).toEqual({ [LB]: 'permanent' });
    expect(released.metadata.annotations).toEqual({});
  });

  it('does not add the label when turned off', () => {
    const start = node({});
    const cordoned = applyPatch(start, cordonPatch(start, 'ev-1', { excludeFromLoadBalancers: false }));
    expect(cordoned.metadata.labels).toEqual({});
    expect(heldByNodemeta(cordoned)).toEqual({ cordonedFor: 'ev-1', excludedFromLoadBalancers: false });
  });

  it('fails as a whole when the node changed since it was read (the label set meanwhile, the cordon taken)', () => {
    const read = node({});
    const labelledMeanwhile = node({ [LB]: 'true' });
    expect(() => applyPatch(labelledMeanwhile, cordonPatch(read, 'ev-1', { excludeFromLoadBalancers: true }))).toThrow(WriteConflictError);
    const cordonedMeanwhile = node({}, { 'nodemeta.io/cordoned': 'ev-0' }, true);
    expect(() => applyPatch(cordonedMeanwhile, cordonPatch(read, 'ev-1', { excludeFromLoadBalancers: true }))).toThrow(WriteConflictError);
    const cordoned = applyPatch(read, cordonPatch(read, 'ev-1', { excludeFromLoadBalancers: true }));
    const recordonedMeanwhile = applyPatch(cordoned, [{ op: 'add', path: '/metadata/annotations/nodemeta.io~1cordoned', value: 'ev-2' }]);
    expect(() => applyPatch(recordonedMeanwhile, releasePatch(cordoned)!)).toThrow(WriteConflictError);
  });

  it('gives back an exclusion left without a cordon (a node someone uncordoned by hand)', () => {
    const left = node({ [LB]: 'true' }, { [EXCLUDED]: 'true' });
    expect(heldByNodemeta(left)).toEqual({ cordonedFor: undefined, excludedFromLoadBalancers: true });
    const released = applyPatch(left, releasePatch(left)!);
    expect(released.metadata.labels).toEqual({});
    expect(released.spec?.unschedulable).toBeUndefined();
  });
});
