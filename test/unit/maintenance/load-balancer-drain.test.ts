// drain.loadBalancerDrainDelay through the pure maintenance step (docs/maintenance.md, "Load balancers
// first"): the first eviction waits after the exclusion label, the wait resumes from status after a
// restart, the drain's deadline cuts it (one Event), and 0 is the behaviour without the option.
import { describe, expect, test } from '@jest/globals';
import type { MaintenanceStatus } from '../../../src/api/nodemetadata.js';
import { parseConfig, type ControllerConfig } from '../../../src/controller/config/config.js';
import { planAction, rulesFor, type MaintenanceTrigger, type PlannedAction } from '../../../src/controller/decide/policy.js';
import { planDrain, type DrainPlan, type DrainPod } from '../../../src/controller/maintenance/drain-plan.js';
import { nextMaintenanceStep, type MaintenanceInput, type MaintenanceStep, type NodeScheduling } from '../../../src/controller/maintenance/state-machine.js';
import { kinds, maintenanceInput } from './maintenance-input.js';

const now = new Date('2026-11-22T04:00:00.000Z');
const inS = (seconds: number) => new Date(now.getTime() + seconds * 1000);
const at = (seconds: number) => inS(seconds).toISOString().replace(/\.\d{3}Z$/, 'Z');

/** As the controller parses its file (the unit tests' configOf turns the wait off). */
function config(yaml: string): ControllerConfig {
  const result = parseConfig(yaml);
  if (!result.ok) throw new Error(result.errors.join('; '));
  return result.config;
}
/** The default configuration: a 60 s wait, maxGracePeriod 5m (the drain must start by NotBefore - 5m10s). */
const withDelay = config('');
const noDelay = config('drain: {loadBalancerDrainDelay: 0s}');

function plan(trigger: Partial<MaintenanceTrigger> = {}, when = now): PlannedAction {
  const planned = planAction({ id: 'E1', type: 'Reboot', notBefore: at(15 * 60), started: false, ...trigger }, rulesFor(withDelay.policy, 'azure'), when);
  if (planned === undefined) throw new Error('no plan');
  return planned;
}

/** Cordoned by nodemeta, with the exclusion label it added. */
const excluded: NodeScheduling = { unschedulable: true, cordonedFor: 'E1', excludedFromLoadBalancers: true, hasExclusionLabel: true, ready: true };
const adminCordoned: NodeScheduling = { unschedulable: true, cordonedFor: undefined, ready: true };

function pod(name: string): DrainPod {
  return { namespace: 'default', name, uid: `uid-${name}`, ownerKinds: ['ReplicaSet'], phase: 'Running', terminationGracePeriodSeconds: 30 };
}
const pods = (cfg: Pick<ControllerConfig, 'drain'>, when = now): DrainPlan => planDrain([pod('a'), pod('b')], cfg.drain, when, undefined);

function input(overrides: Partial<MaintenanceInput> = {}): MaintenanceInput {
  const cfg = overrides.config ?? withDelay;
  return maintenanceInput({ active: plan(), pods: pods(cfg, overrides.now ?? now), config: cfg, now, ...overrides });
}
const scheduled = (extra: Partial<MaintenanceStatus> = {}): MaintenanceStatus => ({ phase: 'Scheduled', eventId: 'E1', eventType: 'Reboot', notBefore: at(15 * 60), ...extra });
const cuts = (step: MaintenanceStep) => step.actions.filter((action) => action.kind === 'Emit' && action.reason === 'LoadBalancerDrainCut');

describe('drain.loadBalancerDrainDelay', () => {
  test('the drain starts (Draining) once the label is on the node, but evicts nothing before the delay has passed since then', () => {
    // The cordon adds the label: nothing else in that step, the wait counts from when the label shows.
    const cordon = nextMaintenanceStep(input({ current: scheduled() }));
    expect(cordon).toEqual({ status: scheduled(), actions: [{ kind: 'Cordon', eventId: 'E1' }], requeueAfterMs: 0 });
    const first = nextMaintenanceStep(input({ current: scheduled(), node: excluded }));
    expect(kinds(first)).toEqual(['Emit:DrainStarted']);
    expect(first.status).toMatchObject({ phase: 'Draining', startedTime: at(0), excludedTime: at(0), loadBalancerDrainUntil: at(60), pendingPods: 2 });
    expect(first.actions.find((action) => action.kind === 'Emit')).toMatchObject({ message: expect.stringContaining(`until ${at(60)}`) });

    // Given its own output back with the node labelled: nothing more, look again when the wait ends.
    const waiting = nextMaintenanceStep(input({ current: first.status, node: excluded, now: inS(10), pods: pods(withDelay, inS(10)) }));
    expect(waiting.actions).toEqual([]);
    expect(waiting.status).toEqual(first.status);
    expect(waiting.requeueAfterMs).toBe(50_000);

    const almost = nextMaintenanceStep(input({ current: first.status, node: excluded, now: new Date(inS(60).getTime() - 1), pods: pods(withDelay, inS(60)) }));
    expect(kinds(almost)).toEqual([]);

    const over = nextMaintenanceStep(input({ current: first.status, node: excluded, now: inS(60), pods: pods(withDelay, inS(60)) }));
    expect(kinds(over)).toEqual(['EvictPods']);
    expect(over.status.loadBalancerDrainUntil).toBeUndefined();
    expect(over.status.excludedTime).toBe(at(0));
  });

  test('the label counts from when the step first sees it, rounded up to the second (never a shorter wait)', () => {
    const seen = new Date(inS(3).getTime() + 1);
    const step = nextMaintenanceStep(input({ current: scheduled(), node: excluded, now: seen, pods: pods(withDelay, seen) }));
    expect(kinds(step)).toEqual(['Emit:DrainStarted']);
    expect(step.status).toMatchObject({ excludedTime: at(4), loadBalancerDrainUntil: at(64) });
  });

  test('after a restart or a leader change the wait resumes from status.maintenance.excludedTime, not from the start', () => {
    const stored: MaintenanceStatus = { ...scheduled(), phase: 'Draining', startedTime: at(-40), excludedTime: at(-40), loadBalancerDrainUntil: at(20), totalPods: 2, pendingPods: 2, evictedPods: 0 };
    const resumed = nextMaintenanceStep(input({ current: stored, node: excluded }));
    expect(resumed.actions).toEqual([]);
    expect(resumed.requeueAfterMs).toBe(20_000);
    expect(nextMaintenanceStep(input({ current: stored, node: excluded, now: inS(20), pods: pods(withDelay, inS(20)) })).actions.map((a) => a.kind)).toEqual(['EvictPods']);
  });

  test('the time waiting for budget counts: a node cordoned and labelled long enough evicts as soon as it may drain', () => {
    const cordoned = scheduled({ phase: 'Cordoned' });
    const waitingForBudget = nextMaintenanceStep(input({ current: cordoned, node: excluded, budget: { draining: 1, limit: 1 } }));
    expect(waitingForBudget.status).toMatchObject({ phase: 'Cordoned', excludedTime: at(0) });
    const later = inS(90);
    const starts = nextMaintenanceStep(input({ current: waitingForBudget.status, node: excluded, now: later, pods: pods(withDelay, later) }));
    expect(kinds(starts)).toEqual(['EvictPods', 'Emit:DrainStarted']);
    expect(starts.status.loadBalancerDrainUntil).toBeUndefined();
  });

  test('a node with nothing to evict is not Drained before the wait ends (it still forwards LoadBalancer traffic)', () => {
    const first = nextMaintenanceStep(input({ current: scheduled(), node: excluded, pods: planDrain([], withDelay.drain, now, undefined) }));
    expect(first.status).toMatchObject({ phase: 'Draining', loadBalancerDrainUntil: at(60) });
    const empty = planDrain([], withDelay.drain, now, undefined);
    expect(nextMaintenanceStep(input({ current: first.status, node: excluded, now: inS(30), pods: empty })).status.phase).toBe('Draining');
    expect(nextMaintenanceStep(input({ current: first.status, node: excluded, now: inS(60), pods: empty })).status.phase).toBe('Drained');
  });

  test('the eviction timeout counts from the first eviction, after the wait', () => {
    const cfg = config('drain: {evictionTimeout: 1m}');
    const evicting: MaintenanceStatus = { ...scheduled(), phase: 'Draining', startedTime: at(0), excludedTime: at(0), totalPods: 2, pendingPods: 2, evictedPods: 0 };
    expect(nextMaintenanceStep(input({ config: cfg, current: evicting, node: excluded, now: inS(100) })).status.phase).toBe('Draining');
    expect(nextMaintenanceStep(input({ config: cfg, current: evicting, node: excluded, now: inS(120) })).status.phase).toBe('Failed');
  });

  test('no exclusion label and none to add (someone else cordoned the node): no wait, nothing would take it out of the backends', () => {
    const step = nextMaintenanceStep(input({ current: scheduled(), node: adminCordoned }));
    expect(kinds(step)).toEqual(['EvictPods', 'Emit:DrainStarted']);
    expect(step.status.excludedTime).toBeUndefined();
  });

  test('drain.excludeFromLoadBalancers off: the cordon adds no label, so no wait', () => {
    const cfg = config('drain: {excludeFromLoadBalancers: false}');
    const step = nextMaintenanceStep(input({ config: cfg, current: scheduled() }));
    expect(kinds(step)).toEqual(['Cordon', 'EvictPods', 'Emit:DrainStarted']);
  });
});

describe('the deadline rule wins', () => {
  test('a wait that would end after the drain must start ends then, and says so in one Event', () => {
    // NotBefore in 6 min: the drain must start by NotBefore - 5m10s = 50 s from now.
    const active = plan({ notBefore: at(360) });
    const first = nextMaintenanceStep(input({ active, current: scheduled({ notBefore: at(360) }), node: excluded }));
    expect(first.status).toMatchObject({ phase: 'Draining', excludedTime: at(0), loadBalancerDrainUntil: at(50) });
    expect(cuts(first)).toEqual([
      expect.objectContaining({ type: 'Warning', message: `Reboot E1: the load balancers get 50s of drain.loadBalancerDrainDelay 60s before the first eviction: the drain must start by ${at(50)} to end before NotBefore ${at(360)}` }),
    ]);
    // The next looks say nothing more, and the evictions start at the cut end.
    const waiting = nextMaintenanceStep(input({ active, current: first.status, node: excluded, now: inS(20) }));
    expect(waiting.actions).toEqual([]);
    expect(waiting.requeueAfterMs).toBe(30_000);
    const over = nextMaintenanceStep(input({ active, current: first.status, node: excluded, now: inS(50) }));
    expect(kinds(over)).toEqual(['EvictPods']);
  });

  test('a Preempt with 30 s notice is not delayed at all: its drain is due at once, and the Event says why', () => {
    const active = plan({ type: 'Preempt', notBefore: at(30) });
    const step = nextMaintenanceStep(input({ active, current: scheduled({ eventType: 'Preempt', notBefore: at(30) }), node: excluded }));
    expect(kinds(step)).toEqual(['EvictPods', 'Emit:DrainStarted', 'Emit:LoadBalancerDrainCut']);
    expect(step.status.loadBalancerDrainUntil).toBeUndefined();
    expect(cuts(step)[0]).toMatchObject({ message: expect.stringContaining('the load balancers get 0s of drain.loadBalancerDrainDelay 60s') });
  });

  test('NotBefore moved earlier during the wait: the wait shortens, with one Event', () => {
    const first = nextMaintenanceStep(input({ current: scheduled(), node: excluded }));
    expect(cuts(first)).toEqual([]);
    const moved = plan({ notBefore: at(350) }, inS(10));
    const shortened = nextMaintenanceStep(input({ active: moved, current: first.status, node: excluded, now: inS(10) }));
    expect(shortened.status.loadBalancerDrainUntil).toBe(at(40));
    expect(cuts(shortened)).toHaveLength(1);
    const again = nextMaintenanceStep(input({ active: moved, current: shortened.status, node: excluded, now: inS(20) }));
    expect(again.actions).toEqual([]);
    const over = nextMaintenanceStep(input({ active: moved, current: shortened.status, node: excluded, now: inS(40) }));
    expect(kinds(over)).toEqual(['EvictPods']);
  });
});

describe('a delay of 0 is the behaviour without the option', () => {
  test('the same steps, no excludedTime, no loadBalancerDrainUntil', () => {
    const start = nextMaintenanceStep(input({ config: noDelay, current: scheduled() }));
    expect(kinds(start)).toEqual(['Cordon', 'EvictPods', 'Emit:DrainStarted']);
    expect(start.status).toEqual({ ...scheduled(), phase: 'Draining', startedTime: at(0), totalPods: 2, pendingPods: 2, evictedPods: 0 });
    const budget = nextMaintenanceStep(input({ config: noDelay, current: scheduled({ phase: 'Cordoned' }), node: excluded, budget: { draining: 1, limit: 1 } }));
    expect(budget).toEqual({ status: scheduled({ phase: 'Cordoned' }), actions: [], requeueAfterMs: 15 * 60_000 - 5 * 60_000 - 10_000 });
    const preempt = nextMaintenanceStep(input({ config: noDelay, active: plan({ type: 'Preempt', notBefore: at(30) }), current: scheduled({ eventType: 'Preempt', notBefore: at(30) }) }));
    expect(kinds(preempt)).toEqual(['Cordon', 'EvictPods', 'Emit:DrainStarted']);
  });
});
