import { describe, expect, test } from '@jest/globals';
import type { ScheduledEvent } from '../../../src/api/observation.js';
import { parseConfig } from '../../../src/controller/config/config.js';
import { planActions, rulesFor, selectActive, triggersFrom } from '../../../src/controller/decide/policy.js';
import { desiredTaints, mergeTaints, taintsPatch, wireTaint, type Taint } from '../../../src/controller/decide/taints.js';

const now = new Date('2026-11-22T04:00:00.000Z');
const at = (minutes: number) => new Date(now.getTime() + minutes * 60_000).toISOString();

function rules(yaml = '', provider: 'azure' | 'alibaba' = 'azure') {
  const result = parseConfig(yaml);
  if (!result.ok) throw new Error(result.errors.join('; '));
  return rulesFor(result.config.policy, provider);
}

function event(id: string, type: ScheduledEvent['type'], notBeforeMinutes: number | undefined, status: ScheduledEvent['status'] = 'Scheduled'): ScheduledEvent {
  const e: ScheduledEvent = { id, type, rawType: type, status, source: 'Platform', resources: ['vm'] };
  if (notBeforeMinutes !== undefined) e.notBefore = at(notBeforeMinutes);
  return e;
}

/** The taints for the event the node acts on, decided once as the reconciler decides it (events and spot together). */
function taintsFor(events: ScheduledEvent[], spot: { terminationTime: string } | undefined, eventRules: ReturnType<typeof rules>, at: Date, currentEventId?: string): Taint[] {
  const plans = planActions(triggersFrom(events, spot), eventRules, at);
  return desiredTaints(plans, selectActive(plans, currentEventId));
}

const scheduled = (value: string, effect: Taint['effect']): Taint => ({ key: 'nodemeta.io/scheduled-event', value, effect });
const spotTaint: Taint = { key: 'nodemeta.io/spot-termination', effect: 'NoSchedule' };

describe('desiredTaints', () => {
  test.each<[string, ScheduledEvent[], { terminationTime: string } | undefined, string, Taint[]]>([
    ['no events', [], undefined, '', []],
    ['Azure Reboot (drain due)', [event('a', 'Reboot', 15)], undefined, '', [scheduled('Reboot', 'NoSchedule')]],
    ['Alibaba Reboot 36 h ahead: notice first', [event('a', 'Reboot', 36 * 60)], undefined, '', [scheduled('Reboot', 'PreferNoSchedule')]],
    ['Freeze: notice only', [event('a', 'Freeze', 15)], undefined, '', [scheduled('Freeze', 'PreferNoSchedule')]],
    ['Freeze and a due Reboot: the reboot', [event('a', 'Freeze', 5), event('b', 'Reboot', 15)], undefined, '', [scheduled('Reboot', 'NoSchedule')]],
    ['Cordon action due', [event('a', 'Redeploy', 10)], undefined, 'policy:\n  Redeploy: {action: Cordon}\n', [scheduled('Redeploy', 'NoSchedule')]],
    ['action None: no taint', [event('a', 'Freeze', 15)], undefined, 'policy:\n  Freeze: {action: None}\n', []],
    ['spot termination', [], { terminationTime: at(5) }, '', [spotTaint]],
    ['spot with action Taint', [], { terminationTime: at(5) }, 'policy:\n  SpotTermination: {action: Taint}\n', [{ ...spotTaint, effect: 'PreferNoSchedule' }]],
    ['spot with action None', [], { terminationTime: at(5) }, 'policy:\n  SpotTermination: {action: None}\n', []],
    ['event and spot together', [event('a', 'Preempt', 1)], { terminationTime: at(5) }, '', [scheduled('Preempt', 'NoSchedule'), spotTaint]],
  ])('%s', (_name, events, spot, yaml, expected) => {
    expect(taintsFor(events, spot, rules(yaml), now)).toEqual(expected);
  });

  test('never NoExecute', () => {
    const all = taintsFor([event('a', 'Preempt', 1), event('b', 'Terminate', 5), event('c', 'Reboot', undefined, 'Started')], { terminationTime: at(1) }, rules(), now);
    expect(all.some((taint) => taint.effect === 'NoExecute')).toBe(false);
  });

  test('the scheduled-event taint follows the active event, spot termination included', () => {
    const notice = event('a', 'Reboot', 36 * 60);
    const spot = { terminationTime: at(5) };
    // The reclaim is due and outranks a notice: it is the active event, and its own taint says so.
    expect(taintsFor([notice], spot, rules(), now)).toEqual([spotTaint]);
    // A due drain the node already handles stays active beside the reclaim (selectActive keeps it).
    const due = event('b', 'Reboot', 15);
    expect(taintsFor([due], spot, rules(), now, 'b')).toEqual([scheduled('Reboot', 'NoSchedule'), spotTaint]);
    // Whatever the mix, the scheduled-event taint names exactly the event selectActive picks.
    for (const current of [undefined, 'a', 'b', 'spot-termination']) {
      const plans = planActions(triggersFrom([notice, due], spot), rules(), now);
      const active = selectActive(plans, current);
      const value = desiredTaints(plans, active).find((taint) => taint.key === 'nodemeta.io/scheduled-event')?.value;
      expect(value).toBe(active?.eventType === 'SpotTermination' ? undefined : active?.eventType);
    }
  });

  test('the notice becomes NoSchedule once the lead time is reached', () => {
    const events = [event('a', 'Reboot', 36 * 60)];
    const later = new Date(now.getTime() + 35 * 3_600_000);
    expect(taintsFor(events, undefined, rules(), later)).toEqual([scheduled('Reboot', 'NoSchedule')]);
  });
});

describe('mergeTaints', () => {
  const foreignA: Taint = { key: 'dedicated', value: 'gpu', effect: 'NoSchedule' };
  const foreignB: Taint = { key: 'node.kubernetes.io/unschedulable', effect: 'NoSchedule', timeAdded: '2026-11-22T03:00:00Z' };
  const foreignC: Taint = { key: 'example.com/nodemeta.io-lookalike', effect: 'PreferNoSchedule' };

  test('adds ours after every foreign taint, keeping theirs untouched and in order', () => {
    expect(mergeTaints([foreignB, foreignA, foreignC], [scheduled('Reboot', 'NoSchedule')])).toEqual([foreignB, foreignA, foreignC, scheduled('Reboot', 'NoSchedule')]);
  });

  test('replaces our stale taint, wherever it sits', () => {
    expect(mergeTaints([foreignA, scheduled('Reboot', 'PreferNoSchedule'), foreignB], [scheduled('Reboot', 'NoSchedule')])).toEqual([foreignA, foreignB, scheduled('Reboot', 'NoSchedule')]);
  });

  test('removes ours when none are desired', () => {
    expect(mergeTaints([foreignA, spotTaint, scheduled('Freeze', 'PreferNoSchedule')], [])).toEqual([foreignA]);
  });

  test('is undefined when nothing changes (order and timeAdded aside)', () => {
    expect(mergeTaints([spotTaint, foreignA, scheduled('Reboot', 'NoSchedule')], [scheduled('Reboot', 'NoSchedule'), spotTaint])).toBeUndefined();
    expect(mergeTaints(undefined, [])).toBeUndefined();
    expect(mergeTaints([foreignA], [])).toBeUndefined();
  });

  test('a changed value is a change', () => {
    expect(mergeTaints([scheduled('Reboot', 'NoSchedule')], [scheduled('Redeploy', 'NoSchedule')])).toEqual([scheduled('Redeploy', 'NoSchedule')]);
  });

  test('is idempotent: merging into its own result changes nothing', () => {
    const desired = [scheduled('Preempt', 'NoSchedule'), spotTaint];
    const once = mergeTaints([foreignA, scheduled('Freeze', 'PreferNoSchedule'), foreignB], desired)!;
    expect(mergeTaints(once, desired)).toBeUndefined();
  });
});

describe('taintsPatch', () => {
  const foreign: Taint = { key: 'dedicated', value: 'gpu', effect: 'NoSchedule' };
  const ours = scheduled('Reboot', 'NoSchedule');

  test('tests the list it was based on, then replaces it', () => {
    expect(taintsPatch([foreign], [foreign, ours])).toEqual([
      { op: 'test', path: '/spec/taints', value: [foreign] },
      { op: 'replace', path: '/spec/taints', value: [foreign, ours] },
    ]);
  });

  test('on a node without taints, tests for their absence and adds the list', () => {
    expect(taintsPatch(undefined, [ours])).toEqual([
      { op: 'test', path: '/spec/taints', value: null },
      { op: 'add', path: '/spec/taints', value: [ours] },
    ]);
  });

  test('removes the field when the last taint goes', () => {
    expect(taintsPatch([ours], [])).toEqual([
      { op: 'test', path: '/spec/taints', value: [ours] },
      { op: 'remove', path: '/spec/taints' },
    ]);
    expect(taintsPatch(undefined, [])).toEqual([]);
  });

  test('spells timeAdded as the API server does, so the test matches', () => {
    const unreachable = { key: 'node.kubernetes.io/unreachable', effect: 'NoExecute' as const, timeAdded: new Date('2026-11-22T03:00:00Z') };
    const [guard] = taintsPatch([unreachable], [unreachable, ours]);
    expect(guard).toEqual({ op: 'test', path: '/spec/taints', value: [{ key: 'node.kubernetes.io/unreachable', effect: 'NoExecute', timeAdded: '2026-11-22T03:00:00Z' }] });
    expect(wireTaint({ key: 'k', effect: 'NoExecute', timeAdded: '2026-11-22T03:00:00Z' }).timeAdded).toBe('2026-11-22T03:00:00Z');
    expect(wireTaint({ key: 'k', effect: 'NoSchedule' })).toEqual({ key: 'k', effect: 'NoSchedule' });
  });
});
