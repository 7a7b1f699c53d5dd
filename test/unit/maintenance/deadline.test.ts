// The end of a blocked drain (atDeadline) and the eviction order of critical pods, in the pure state
// machine (docs/maintenance.md, "The end of a blocked drain" and "Eviction order").
import { describe, expect, test } from '@jest/globals';
import type { MaintenanceStatus } from '../../../src/api/nodemetadata.js';
import { planAction, rulesFor, type MaintenanceTrigger, type PlannedAction } from '../../../src/controller/decide/policy.js';
import { GRACE_MARGIN_MS, planDrain, type DrainPod } from '../../../src/controller/maintenance/drain-plan.js';
import { nextMaintenanceStep, POLL_MS, type Action, type EvictionAttempt, type MaintenanceInput, type MaintenanceStep } from '../../../src/controller/maintenance/state-machine.js';
import { configOf as config } from '../controller/config-of.js';
import { maintenanceInput } from './maintenance-input.js';

const now = new Date('2026-11-22T04:00:00.000Z');
const NOT_BEFORE_MIN = 15;
const deadline = now.getTime() + NOT_BEFORE_MIN * 60_000;
const at = (minutes: number) => new Date(now.getTime() + minutes * 60_000).toISOString().replace(/\.\d{3}Z$/, 'Z');
/** The moment `ms` before the deadline. */
const beforeDeadline = (ms: number) => new Date(deadline - ms);

const waitConfig = config();
const deleteConfig = config('policy: {Reboot: {atDeadline: Delete}}');

function plan(cfg = deleteConfig, trigger: Partial<MaintenanceTrigger> = {}, when = now): PlannedAction {
  const full: MaintenanceTrigger = { id: 'E1', type: 'Reboot', notBefore: at(NOT_BEFORE_MIN), started: false, ...trigger };
  const planned = planAction(full, rulesFor(cfg.policy, 'azure'), when);
  if (planned === undefined) throw new Error('no plan');
  return planned;
}

function pod(name: string, extra: Partial<DrainPod> = {}): DrainPod {
  return { namespace: 'shop', name, uid: `uid-${name}`, ownerKinds: ['ReplicaSet'], phase: 'Running', terminationGracePeriodSeconds: 30, ...extra };
}

const REFUSAL = "Cannot evict pod as it would violate the pod's disruption budget.: The disruption budget web needs 1 healthy pods and has 1 currently";
const refused = (name: string, extra: Partial<EvictionAttempt> = {}): EvictionAttempt => ({ uid: `uid-${name}`, attempts: 1, lastAttemptMs: now.getTime(), blockedBy: REFUSAL, retryAtMs: deadline, ...extra });

const draining = (extra: Partial<MaintenanceStatus> = {}): MaintenanceStatus => ({
  phase: 'Draining',
  eventId: 'E1',
  eventType: 'Reboot',
  notBefore: at(NOT_BEFORE_MIN),
  startedTime: at(0),
  totalPods: 1,
  pendingPods: 1,
  evictedPods: 0,
  ...extra,
});

function input(pods: DrainPod[], when: Date, overrides: Partial<MaintenanceInput> = {}, cfg = deleteConfig): MaintenanceInput {
  return maintenanceInput({
    current: draining(),
    active: plan(cfg),
    node: { unschedulable: true, cordonedFor: 'E1', ready: true },
    pods: planDrain(pods, cfg.drain, when, deadline),
    config: cfg,
    now: when,
    ...overrides,
  });
}

const deletions = (step: MaintenanceStep) => step.actions.filter((action): action is Extract<Action, { kind: 'DeletePods' }> => action.kind === 'DeletePods').flatMap((action) => action.pods);
const evicted = (step: MaintenanceStep) => step.actions.flatMap((action) => (action.kind === 'EvictPods' ? action.pods.map((p) => p.name) : []));

describe('atDeadline', () => {
  test('policy: Delete only for a Drain of an event that ends the VM; Wait by default', () => {
    expect(plan(waitConfig).atDeadline).toBe('Wait');
    expect(plan(deleteConfig).atDeadline).toBe('Delete');
    expect(plan(config('policy: {Reboot: {action: Cordon, atDeadline: Delete}}')).atDeadline).toBe('Wait');
    expect(plan(config('policy: {Freeze: {action: Drain}}'), { type: 'Freeze' }).atDeadline).toBe('Wait');
    expect(plan(config('policy: {providers: {azure: {Preempt: {atDeadline: Delete}}}}'), { type: 'Preempt' }).atDeadline).toBe('Delete');
  });

  test('Delete: a refused pod is deleted once its grace period plus the margin is all that is left, with the refusal it overrides', () => {
    const momentMs = 30_000 + GRACE_MARGIN_MS;
    const early = nextMaintenanceStep(input([pod('web-0')], beforeDeadline(momentMs + 5_000), { evictions: [refused('web-0')] }));
    expect(deletions(early)).toEqual([]);
    expect(early.requeueAfterMs).toBe(5_000);

    const due = nextMaintenanceStep(input([pod('web-0')], beforeDeadline(momentMs), { evictions: [refused('web-0')] }));
    expect(deletions(due)).toEqual([expect.objectContaining({ name: 'web-0', uid: 'uid-web-0', gracePeriodSeconds: 30, refusal: REFUSAL })]);
    expect(due.actions).toContainEqual(expect.objectContaining({ kind: 'DeletePods', eventType: 'Reboot', notBefore: at(NOT_BEFORE_MIN) }));
    // Deleted, not evicted as well.
    expect(evicted(due)).toEqual([]);
  });

  test('Delete: late, the grace period is what is left before the deadline less the margin (at least 1 s)', () => {
    const step = nextMaintenanceStep(input([pod('web-0')], beforeDeadline(25_000), { evictions: [refused('web-0')] }));
    expect(deletions(step).map((p) => p.gracePeriodSeconds)).toEqual([15]);
    const last = nextMaintenanceStep(input([pod('web-0')], beforeDeadline(2_000), { evictions: [refused('web-0')] }));
    expect(deletions(last).map((p) => p.gracePeriodSeconds)).toEqual([1]);
  });

  test('Delete: the moment follows min(the pod grace period, drain.maxGracePeriod)', () => {
    const cfg = config('policy: {Reboot: {atDeadline: Delete}}\ndrain: {maxGracePeriod: 60s}');
    const long = pod('db-0', { terminationGracePeriodSeconds: 600 });
    expect(deletions(nextMaintenanceStep(input([long], beforeDeadline(71_000), { evictions: [refused('db-0')] }, cfg)))).toEqual([]);
    expect(deletions(nextMaintenanceStep(input([long], beforeDeadline(70_000), { evictions: [refused('db-0')] }, cfg))).map((p) => p.gracePeriodSeconds)).toEqual([60]);
  });

  test('Delete: a pod whose eviction was not answered yet is deleted too, saying no refusal was recorded', () => {
    const step = nextMaintenanceStep(input([pod('web-0')], beforeDeadline(40_000)));
    expect(deletions(step)).toEqual([expect.objectContaining({ name: 'web-0' })]);
    expect(deletions(step)[0]).not.toHaveProperty('refusal');
  });

  test('Delete: once per pod, whatever it came to; an accepted eviction is not followed by a delete', () => {
    const when = beforeDeadline(20_000);
    for (const outcome of ['deleted', 'gone', 'forbidden', 'error'] as const) {
      const step = nextMaintenanceStep(input([pod('web-0')], when, { evictions: [refused('web-0', { deletion: outcome })] }));
      expect([outcome, deletions(step)]).toEqual([outcome, []]);
    }
    // A refused (403) deletion falls back to waiting: the evictions go on.
    expect(evicted(nextMaintenanceStep(input([pod('web-0')], when, { evictions: [refused('web-0', { deletion: 'forbidden', retryAtMs: when.getTime() })] })))).toEqual(['web-0']);
    expect(evicted(nextMaintenanceStep(input([pod('web-0')], when, { evictions: [refused('web-0', { deletion: 'deleted', retryAtMs: when.getTime() })] })))).toEqual([]);
    // A deleted pod the cache still shows running asks for no immediate look (no busy loop).
    expect(nextMaintenanceStep(input([pod('web-0')], when, { evictions: [refused('web-0', { deletion: 'deleted', retryAtMs: when.getTime() - 1 })] })).requeueAfterMs).toBe(POLL_MS);
    const accepted: EvictionAttempt = { uid: 'uid-web-0', attempts: 1, lastAttemptMs: now.getTime() };
    expect(deletions(nextMaintenanceStep(input([pod('web-0')], when, { evictions: [accepted] })))).toEqual([]);
  });

  test('Wait (the default): nothing is ever deleted', () => {
    for (const left of [40_000, 5_000, 0]) {
      expect(deletions(nextMaintenanceStep(input([pod('web-0')], beforeDeadline(left), { active: plan(waitConfig), config: waitConfig, evictions: [refused('web-0')] }, waitConfig)))).toEqual([]);
    }
  });

  test('pods the configuration keeps on the node (Unmanaged, LocalStorage) are never deleted', () => {
    const cfg = config('policy: {Reboot: {atDeadline: Delete}}\ndrain: {deleteEmptyDirData: false}');
    const bare = pod('bare', { ownerKinds: [] });
    const scratch = pod('scratch', { volumes: [{ name: 'tmp', emptyDir: true }] });
    const step = nextMaintenanceStep(input([bare, scratch], beforeDeadline(5_000), {}, cfg));
    expect(deletions(step)).toEqual([]);
  });

  test('no NotBefore (the event has started): nothing is deleted', () => {
    const started = plan(deleteConfig, { notBefore: undefined, started: true });
    const step = nextMaintenanceStep(input([pod('web-0')], now, { active: started, current: draining({ notBefore: undefined }), evictions: [refused('web-0')] }));
    expect(deletions(step)).toEqual([]);
  });

  test('Failed after the eviction timeout: the deadline still comes, the pod is deleted then', () => {
    const cfg = config('policy: {Reboot: {atDeadline: Delete}}\ndrain: {evictionTimeout: 1m}');
    const failed = draining({ phase: 'Failed', lastError: 'drain timed out' });
    const waiting = nextMaintenanceStep(input([pod('web-0')], beforeDeadline(60_000), { current: failed, evictions: [refused('web-0')] }, cfg));
    expect(waiting.status.phase).toBe('Failed');
    expect(deletions(waiting)).toEqual([]);
    expect(waiting.requeueAfterMs).toBe(20_000);
    const due = nextMaintenanceStep(input([pod('web-0')], beforeDeadline(40_000), { current: failed, evictions: [refused('web-0')] }, cfg));
    expect(deletions(due).map((p) => p.name)).toEqual(['web-0']);
  });
});

describe('eviction order: critical pods last', () => {
  const low = pod('batch', { priority: 0 });
  const high = pod('api', { priority: 1000 });
  const dns = pod('coredns', { namespace: 'kube-system', priority: 2_000_000_000, priorityClassName: 'system-cluster-critical' });
  const cni = pod('cni-helper', { namespace: 'kube-system', priority: 2_000_001_000, priorityClassName: 'system-node-critical' });

  test('a drain starts with the others, lowest priority first; the critical pods wait', () => {
    const step = nextMaintenanceStep(input([dns, high, low, cni], now, { current: { ...draining(), phase: 'Scheduled' } }, waitConfig));
    expect(step.status.phase).toBe('Draining');
    expect(evicted(step)).toEqual(['batch', 'api']);
  });

  test('held while another pod the drain moves is still there, to be evicted or terminating', () => {
    const accepted = (p: DrainPod): EvictionAttempt => ({ uid: p.uid, attempts: 1, lastAttemptMs: now.getTime() });
    const stillThere = nextMaintenanceStep(input([dns, high], now, { evictions: [accepted(high)] }, waitConfig));
    expect(evicted(stillThere)).toEqual([]);
    const terminating = nextMaintenanceStep(input([dns, { ...high, deletionTimestamp: at(0) }], now, {}, waitConfig));
    expect(evicted(terminating)).toEqual([]);
    // A critical pod terminating does not hold another one.
    const criticalTerminating = nextMaintenanceStep(input([dns, { ...cni, deletionTimestamp: at(0) }], now, {}, waitConfig));
    expect(evicted(criticalTerminating)).toEqual(['coredns']);
  });

  test('released once the others are gone', () => {
    expect(evicted(nextMaintenanceStep(input([dns, cni], now, {}, waitConfig)))).toEqual(['coredns', 'cni-helper']);
  });

  test('not held for pods the configuration keeps on the node (they never go)', () => {
    expect(evicted(nextMaintenanceStep(input([dns, pod('bare', { ownerKinds: [] })], now, {}, waitConfig)))).toEqual(['coredns']);
  });

  test('never held past the moment the time left is what their eviction needs (maxGracePeriod + margin)', () => {
    const releaseMs = 300_000 + GRACE_MARGIN_MS;
    const held = nextMaintenanceStep(input([dns, high], beforeDeadline(releaseMs + 3_000), { evictions: [refused('api', { retryAtMs: deadline })] }, waitConfig));
    expect(evicted(held)).toEqual([]);
    expect(held.requeueAfterMs).toBe(3_000);
    const released = nextMaintenanceStep(input([dns, high], beforeDeadline(releaseMs), { evictions: [refused('api', { retryAtMs: deadline })] }, waitConfig));
    expect(evicted(released)).toEqual(['coredns']);
  });

  test('no NotBefore (the event has started): not held', () => {
    const started = plan(waitConfig, { notBefore: undefined, started: true });
    const step = nextMaintenanceStep(input([dns, high], now, { active: started, current: draining({ notBefore: undefined }) }, waitConfig));
    expect(evicted(step)).toEqual(['api', 'coredns']);
  });

  test('the wait while held is never longer than the poll', () => {
    const step = nextMaintenanceStep(input([dns, high], now, { evictions: [refused('api', { retryAtMs: deadline })] }, waitConfig));
    expect(step.requeueAfterMs).toBe(POLL_MS);
  });
});
