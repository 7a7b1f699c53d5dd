import { describe, expect, test } from '@jest/globals';
import type { Observation, ScheduledEvent } from '../../../src/api/observation.js';
import type { NodeState } from '../../../src/controller/cache/cluster-state.js';
import { parseConfig } from '../../../src/controller/config/config.js';
import { OUT_OF_SERVICE_TAINT, outOfServiceFor, outOfServicePatch } from '../../../src/controller/decide/out-of-service.js';
import { rulesFor } from '../../../src/controller/decide/policy.js';
import { WriteConflictError } from '../../../src/controller/cache/cluster-state.js';
import { applyJsonPatch as applyPatch } from '../../../src/controller/dry-run/json-patch.js';

const now = new Date('2026-11-22T04:00:00.000Z');
const at = (minutes: number) => new Date(now.getTime() + minutes * 60_000).toISOString();
const rules = (yaml = '') => {
  const result = parseConfig(yaml);
  if (!result.ok) throw new Error(result.errors.join('; '));
  return rulesFor(result.config.policy, 'azure');
};

function event(type: ScheduledEvent['type'], notBeforeMinutes: number | undefined, status: ScheduledEvent['status'] = 'Scheduled', id = `ev-${type}`): ScheduledEvent {
  const e: ScheduledEvent = { id, type, rawType: type, status, source: 'Platform', resources: ['vm'] };
  if (notBeforeMinutes !== undefined) e.notBefore = at(notBeforeMinutes);
  return e;
}
const observed = (events: ScheduledEvent[], spot?: { terminationTime: string }): Observation => ({ provider: 'azure', observedTime: at(0), instance: {}, tags: [], events, spot });
const node = (ready: boolean | undefined, extra: Partial<NodeState['metadata']> = {}, taints?: NodeState['spec']): NodeState => ({
  metadata: { name: 'n1', ...extra },
  spec: taints ?? {},
  ...(ready === undefined ? {} : { ready }),
});

describe('outOfServiceFor', () => {
  test.each<[string, NodeState, Observation, string, boolean, string | undefined]>([
    ['a Preempt whose NotBefore passed, node NotReady: wanted', node(false), observed([event('Preempt', -1)]), '', true, 'ev-Preempt'],
    ['a Terminate the platform reports Started (no NotBefore), node NotReady', node(false), observed([event('Terminate', undefined, 'Started')]), '', true, 'ev-Terminate'],
    ['a spot reclaim past its termination time, node NotReady', node(false), observed([], { terminationTime: at(-1) }), '', true, 'spot-termination'],
    ['off (the default)', node(false), observed([event('Preempt', -1)]), '', false, undefined],
    ['the node is Ready: the VM still runs', node(true), observed([event('Preempt', -1)]), '', true, undefined],
    ['readiness unknown: not assumed gone', node(undefined), observed([event('Preempt', -1)]), '', true, undefined],
    ['not started yet: the VM may still be there', node(false), observed([event('Preempt', 1)]), '', true, undefined],
    ['a Reboot: the VM comes back', node(false), observed([event('Reboot', -1)]), '', true, undefined],
    ['a Redeploy: the VM comes back', node(false), observed([event('Redeploy', undefined, 'Started')]), '', true, undefined],
    ['the policy ignores Preempt (action None)', node(false), observed([event('Preempt', -1)]), 'policy: {Preempt: {action: None}}', true, undefined],
  ])('%s', (_name, n, observation, yaml, enabled, expected) => {
    expect(outOfServiceFor(n, observation, rules(yaml), now, enabled)).toBe(expected);
  });
});

describe('outOfServicePatch', () => {
  const other = { key: 'dedicated', value: 'gpu', effect: 'NoSchedule' as const };

  test('adds the taint after the others, with the annotation that makes it nodemeta\'s; removes both later', () => {
    const start = node(false, { annotations: { a: 'b' } }, { taints: [other] });
    const tainted = applyPatch(start, outOfServicePatch(start, 'ev-1')!);
    expect(tainted.spec?.taints).toEqual([other, OUT_OF_SERVICE_TAINT]);
    expect(tainted.metadata.annotations).toEqual({ a: 'b', 'nodemeta.io/out-of-service': 'ev-1' });
    expect(outOfServicePatch(tainted, 'ev-1')).toBeUndefined();
    const back = applyPatch(tainted, outOfServicePatch(tainted, undefined)!);
    expect(back.spec?.taints).toEqual([other]);
    expect(back.metadata.annotations).toEqual({ a: 'b' });
    expect(outOfServicePatch(back, undefined)).toBeUndefined();
  });

  test('a node without taints or annotations', () => {
    const bare = node(false);
    const tainted = applyPatch(bare, outOfServicePatch(bare, 'ev-1')!);
    expect(tainted.spec?.taints).toEqual([OUT_OF_SERVICE_TAINT]);
    expect(tainted.metadata.annotations).toEqual({ 'nodemeta.io/out-of-service': 'ev-1' });
    expect(applyPatch(tainted, outOfServicePatch(tainted, undefined)!).spec?.taints).toBeUndefined();
  });

  test("a person's taint is neither claimed nor removed", () => {
    const theirs = node(false, {}, { taints: [OUT_OF_SERVICE_TAINT] });
    expect(outOfServicePatch(theirs, 'ev-1')).toBeUndefined();
    expect(outOfServicePatch(theirs, undefined)).toBeUndefined();
  });

  test('fails as a whole when the taints changed since the node was read', () => {
    const read = node(false, {}, { taints: [other] });
    const changed = node(false, {}, { taints: [] });
    expect(() => applyPatch(changed, outOfServicePatch(read, 'ev-1')!)).toThrow(WriteConflictError);
  });
});
