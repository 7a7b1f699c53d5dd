import { describe, expect, test } from '@jest/globals';
import type { ScheduledEvent } from '../../../src/api/observation.js';
import { msUntilStart, planAction, planActions, rulesFor, selectActive, SPOT_TERMINATION_EVENT_ID, triggersFrom, type MaintenanceTrigger, type PlannedAction } from '../../../src/controller/decide/policy.js';
import { configOf as config } from './config-of.js';

const now = new Date('2026-11-22T04:00:00.000Z');
const at = (minutes: number) => new Date(now.getTime() + minutes * 60_000).toISOString();
const ms = (minutes: number) => now.getTime() + minutes * 60_000;

const defaults = rulesFor(config().policy, 'azure');

describe('planAction with the default policy', () => {
  test.each<[string, MaintenanceTrigger, Partial<PlannedAction> | undefined]>([
    ['Azure Reboot, 15 min notice: drain at once', { id: 'e', type: 'Reboot', notBefore: at(15), started: false }, { action: 'Drain', startAt: ms(0), deadline: ms(15), due: true }],
    ['Azure Redeploy, 10 min notice: drain at once', { id: 'e', type: 'Redeploy', notBefore: at(10), started: false }, { action: 'Drain', due: true }],
    ['Alibaba Reboot, 36 h notice: drain 1 h before', { id: 'e', type: 'Reboot', notBefore: at(36 * 60), started: false }, { action: 'Drain', startAt: ms(35 * 60), due: false }],
    ['Freeze: notice taint only', { id: 'e', type: 'Freeze', notBefore: at(15), started: false }, { action: 'Taint', due: true }],
    ['Preempt: drain at once', { id: 'e', type: 'Preempt', notBefore: at(0.5), started: false }, { action: 'Drain', startAt: ms(0), due: true }],
    ['Terminate far ahead: still at once', { id: 'e', type: 'Terminate', notBefore: at(600), started: false }, { action: 'Drain', startAt: ms(0), due: true }],
    ['spot termination: at once', { id: SPOT_TERMINATION_EVENT_ID, type: 'SpotTermination', notBefore: at(5), started: false }, { action: 'Drain', due: true, deadline: ms(5) }],
    ['started event without NotBefore: at once', { id: 'e', type: 'Reboot', started: true }, { action: 'Drain', startAt: ms(0), deadline: undefined, due: true }],
    ['started event with a far NotBefore: at once', { id: 'e', type: 'Reboot', notBefore: at(600), started: true }, { due: true }],
    ['unreadable NotBefore: at once', { id: 'e', type: 'Reboot', notBefore: 'soon', started: false }, { due: true, deadline: undefined }],
    ['NotBefore already passed: never later than NotBefore', { id: 'e', type: 'Reboot', notBefore: at(-5), started: false }, { startAt: ms(-5), due: true }],
    ['Unknown type: notice taint', { id: 'e', type: 'Unknown', notBefore: at(120), started: false }, { action: 'Taint', due: false }],
  ])('%s', (_name, trigger, expected) => {
    expect(planAction(trigger, defaults, now)).toMatchObject(expected!);
  });

  test('an event whose action is None is not planned', () => {
    const rules = rulesFor(config('policy:\n  Freeze: {action: None}\n').policy, 'azure');
    expect(planAction({ id: 'e', type: 'Freeze', notBefore: at(15), started: false }, rules, now)).toBeUndefined();
  });

  test('a lead time of 0 starts at NotBefore', () => {
    const rules = rulesFor(config('policy:\n  Reboot: {leadTime: "0"}\n').policy, 'alibaba');
    expect(planAction({ id: 'e', type: 'Reboot', notBefore: at(30), started: false }, rules, now)).toMatchObject({ startAt: ms(30), due: false });
  });
});

describe('rulesFor', () => {
  const policy = config(`
policy:
  Reboot: {action: Drain, leadTime: 1h}
  providers:
    alibaba:
      Reboot: {leadTime: 4h}
      SpotTermination: {action: Cordon}
`).policy;

  test('provider overrides replace only the fields they set', () => {
    expect(rulesFor(policy, 'alibaba').Reboot).toEqual({ action: 'Drain', leadTimeMs: 4 * 3_600_000, atDeadline: 'Wait' });
    expect(rulesFor(policy, 'alibaba').SpotTermination.action).toBe('Cordon');
    expect(rulesFor(policy, 'azure').Reboot).toEqual({ action: 'Drain', leadTimeMs: 3_600_000, atDeadline: 'Wait' });
    expect(rulesFor(policy, undefined).SpotTermination.action).toBe('Drain');
  });

  test('spec.drain Disabled turns Drain and Cordon into the notice taint', () => {
    const rules = rulesFor(policy, 'alibaba', { drain: 'Disabled' });
    expect(rules.Reboot.action).toBe('Taint');
    expect(rules.SpotTermination.action).toBe('Taint');
    expect(rules.Freeze.action).toBe('Taint');
    expect(rulesFor(policy, 'alibaba', { drain: 'Enabled' }).Reboot.action).toBe('Drain');
  });

  test('does not modify the configuration', () => {
    rulesFor(policy, 'alibaba', { drain: 'Disabled' });
    expect(policy.events.Reboot.action).toBe('Drain');
  });
});

describe('triggersFrom', () => {
  test('turns events and a spot reclaim into triggers', () => {
    const event: ScheduledEvent = { id: 'a', type: 'Reboot', rawType: 'Reboot', status: 'Started', source: 'Platform', resources: [] };
    expect(triggersFrom([event], { terminationTime: at(5) })).toEqual([
      { id: 'a', type: 'Reboot', started: true },
      { id: SPOT_TERMINATION_EVENT_ID, type: 'SpotTermination', notBefore: at(5), started: false },
    ]);
  });
});

describe('selectActive', () => {
  const plan = (eventId: string, overrides: Partial<PlannedAction>): PlannedAction => ({ eventId, eventType: 'Reboot', action: 'Drain', startAt: ms(0), deadline: ms(15), due: true, atDeadline: 'Wait', ...overrides });

  test.each<[string, PlannedAction[], string | undefined]>([
    ['nothing pending', [], undefined],
    ['a due notice beats a drain that is not due yet', [plan('drain-later', { due: false, startAt: ms(600) }), plan('freeze', { action: 'Taint', eventType: 'Freeze' })], 'freeze'],
    ['the stronger action wins among due events', [plan('freeze', { action: 'Taint' }), plan('cordon', { action: 'Cordon' }), plan('drain', { action: 'Drain' })], 'drain'],
    ['then the earliest start', [plan('late', { due: false, startAt: ms(120) }), plan('early', { due: false, startAt: ms(60) })], 'early'],
    ['then the earliest deadline, unknown last', [plan('none', { deadline: undefined }), plan('far', { deadline: ms(30) }), plan('near', { deadline: ms(10) })], 'near'],
    ['then the id', [plan('b', {}), plan('a', {})], 'a'],
  ])('%s', (_name, plans, expected) => {
    expect(selectActive(plans)?.eventId).toBe(expected);
  });

  test('keeps the event in progress while it ranks level with the best', () => {
    const plans = [plan('a', { deadline: ms(10) }), plan('b', { deadline: ms(20) })];
    expect(selectActive(plans, 'b')?.eventId).toBe('b');
    expect(selectActive(plans, 'gone')?.eventId).toBe('a');
  });

  test('switches away from the event in progress when a stronger one is due', () => {
    const plans = [plan('freeze', { action: 'Taint' }), plan('preempt', { eventType: 'Preempt' })];
    expect(selectActive(plans, 'freeze')?.eventId).toBe('preempt');
  });
});

describe('msUntilStart', () => {
  test('is the time to the next plan that is not due, or undefined', () => {
    const plans = planActions(
      [
        { id: 'a', type: 'Reboot', notBefore: at(36 * 60), started: false },
        { id: 'b', type: 'Redeploy', notBefore: at(30 * 60), started: false },
        { id: 'c', type: 'Freeze', notBefore: at(10), started: false },
      ],
      defaults,
      now,
    );
    expect(msUntilStart(plans, now)).toBe(29 * 3_600_000);
    expect(msUntilStart(plans.filter((p) => p.due), now)).toBeUndefined();
  });
});
