import { describe, expect, test } from '@jest/globals';
import type { MaintenanceStatus } from '../../../src/api/nodemetadata.js';
import type { ProviderName } from '../../../src/api/observation.js';
import { parseConfig } from '../../../src/controller/config/config.js';
import { planDrain, type DrainPod } from '../../../src/controller/maintenance/drain-plan.js';
import { nextMaintenanceStep, POLL_MS, type Action, type EvictionAttempt, type MaintenanceInput, type MaintenanceStep, type NodeScheduling } from '../../../src/controller/maintenance/state-machine.js';
import { planAction, rulesFor, SPOT_TERMINATION_EVENT_ID, type MaintenanceTrigger, type PlannedAction } from '../../../src/controller/decide/policy.js';
import { configOf as config } from '../controller/config-of.js';
import { kinds, maintenanceInput, schedulable } from './maintenance-input.js';

const now = new Date('2026-11-22T04:00:00.000Z');
const at = (minutes: number) => new Date(now.getTime() + minutes * 60_000).toISOString().replace(/\.\d{3}Z$/, 'Z');
const later = (minutes: number) => new Date(now.getTime() + minutes * 60_000);

const defaults = config();

function plan(trigger: Partial<MaintenanceTrigger> = {}, provider: ProviderName = 'azure', cfg = defaults, when = now): PlannedAction {
  const full: MaintenanceTrigger = { id: 'E1', type: 'Reboot', notBefore: at(15), started: false, ...trigger };
  const planned = planAction(full, rulesFor(cfg.policy, provider), when);
  if (planned === undefined) throw new Error('no plan');
  return planned;
}

const ours = (eventId = 'E1'): NodeScheduling => ({ unschedulable: true, cordonedFor: eventId, ready: true });
const adminCordoned: NodeScheduling = { unschedulable: true, cordonedFor: undefined, ready: true };

function pod(name: string, extra: Partial<DrainPod> = {}): DrainPod {
  return { namespace: 'default', name, uid: `uid-${name}`, ownerKinds: ['ReplicaSet'], phase: 'Running', terminationGracePeriodSeconds: 30, ...extra };
}
const podsPlan = (pods: DrainPod[], cfg = defaults, when = now, notBefore?: number) => planDrain(pods, cfg.drain, when, notBefore);

const input = (overrides: Partial<MaintenanceInput> = {}): MaintenanceInput => maintenanceInput({ config: defaults, now, ...overrides });
const status = (phase: MaintenanceStatus['phase'], extra: Partial<MaintenanceStatus> = {}): MaintenanceStatus => ({ phase, eventId: 'E1', eventType: 'Reboot', notBefore: at(15), ...extra });
const draining = (extra: Partial<MaintenanceStatus> = {}) => status('Draining', { startedTime: at(0), totalPods: 2, pendingPods: 2, evictedPods: 0, ...extra });

describe('transitions', () => {
  test.each<[string, Partial<MaintenanceInput>, MaintenanceStatus['phase'], string[]]>([
    ['nothing to do: None stays None', {}, 'None', []],
    ['Completed stays Completed while no event', { current: status('Completed') }, 'Completed', []],
    ['new event → Scheduled', { active: plan() }, 'Scheduled', ['Emit:MaintenanceScheduled']],
    ['Scheduled, Drain due, budget free → Draining (cordon first, then evict)', { current: status('Scheduled'), active: plan(), pods: podsPlan([pod('a')]) }, 'Draining', ['Cordon', 'EvictPods', 'Emit:DrainStarted']],
    ['Scheduled, Drain due, budget full → Cordoned (waits, cordoned)', { current: status('Scheduled'), active: plan(), budget: { draining: 1, limit: 1 } }, 'Cordoned', ['Cordon', 'Emit:DrainWaitingForBudget']],
    ['Cordoned, budget frees up → Draining', { current: status('Cordoned'), active: plan(), node: ours(), budget: { draining: 0, limit: 1 }, pods: podsPlan([pod('a')]) }, 'Draining', ['EvictPods', 'Emit:DrainStarted']],
    ['Scheduled, action Cordon → Cordoned, no eviction', { current: status('Scheduled'), active: plan({}, 'azure', config('policy: {Reboot: {action: Cordon}}')), pods: podsPlan([pod('a')]) }, 'Cordoned', ['Cordon', 'Emit:NodeCordoned']],
    ['Scheduled, action Taint (notice) → stays Scheduled, no cordon', { current: status('Scheduled', { eventType: 'Freeze' }), active: plan({ type: 'Freeze' }) }, 'Scheduled', []],
    ['Scheduled, not due (Alibaba 36 h ahead) → stays Scheduled, no cordon', { current: status('Scheduled', { notBefore: at(36 * 60) }), active: plan({ notBefore: at(36 * 60) }, 'alibaba'), provider: 'alibaba' }, 'Scheduled', []],
    ['Draining, pods all gone → Drained', { current: draining(), active: plan(), node: ours() }, 'Drained', ['Emit:Drained']],
    ['Draining past evictionTimeout with pods left → Failed, stays cordoned', { current: draining({ startedTime: at(-31) }), active: plan(), node: ours(), pods: podsPlan([pod('a')]) }, 'Failed', ['Emit:DrainFailed']],
    ['Drained, Azure, all Resources drained → asks approval', { current: status('Drained'), active: plan(), node: ours(), approval: { resourcesDrained: true, approvedEventIds: [] } }, 'Drained', ['RequestApproval', 'Emit:ApprovalRequested']],
    ['Drained, approval asked, agent approved → Approved', { current: status('Drained', { approve: 'E1' }), active: plan(), node: ours(), approval: { resourcesDrained: true, approvedEventIds: ['E1'] } }, 'Approved', ['ClearApprovalRequest', 'Emit:MaintenanceApproved']],
    ['Approved, event gone (before NotBefore: the approval started it early), node Ready → Completed, not Cancelled', { current: status('Approved'), node: ours() }, 'Completed', ['Uncordon', 'Emit:MaintenanceCompleted']],
    ['Failed, event gone, node Ready → Completed, uncordoned', { current: status('Failed', { notBefore: at(-5) }), node: ours() }, 'Completed', ['Uncordon', 'Emit:MaintenanceCompleted']],
    ['Failed, pods gone meanwhile → Drained', { current: status('Failed'), active: plan(), node: ours() }, 'Drained', ['Emit:Drained']],
  ])('%s', (_name, overrides, phase, actions) => {
    const step = nextMaintenanceStep(input(overrides));
    expect(step.status.phase).toBe(phase);
    expect(kinds(step)).toEqual(actions);
  });

  test('an event seen again after it was completed is not handled twice', () => {
    const done = status('Completed', { completedTime: at(-1) });
    expect(nextMaintenanceStep(input({ current: done, active: plan() }))).toEqual({ status: done, actions: [] });
    expect(nextMaintenanceStep(input({ current: done, active: plan({ id: 'E2' }) })).status).toMatchObject({ phase: 'Scheduled', eventId: 'E2' });
  });

  test('a transition asks to look again at once', () => {
    expect(nextMaintenanceStep(input({ active: plan() })).requeueAfterMs).toBe(0);
  });

  test('Draining records the start time and pod counts', () => {
    const step = nextMaintenanceStep(input({ current: status('Scheduled'), active: plan(), pods: podsPlan([pod('a'), pod('b'), pod('c', { deletionTimestamp: 'x' })]) }));
    expect(step.status).toMatchObject({ phase: 'Draining', startedTime: at(0), totalPods: 3, pendingPods: 3, evictedPods: 0 });
    const evict = step.actions.find((action) => action.kind === 'EvictPods');
    expect(evict).toMatchObject({ pods: [{ name: 'a' }, { name: 'b' }] });
  });

  test('Drained records drainedTime and zero pending', () => {
    const step = nextMaintenanceStep(input({ current: draining(), active: plan(), node: ours(), now: later(2) }));
    expect(step.status).toMatchObject({ phase: 'Drained', drainedTime: at(2), pendingPods: 0, evictedPods: 2 });
  });

  test('an event replacing the handled one starts over from Scheduled', () => {
    const step = nextMaintenanceStep(input({ current: draining(), active: plan({ id: 'E2' }), node: ours() }));
    expect(step.status).toEqual({ phase: 'Scheduled', eventId: 'E2', eventType: 'Reboot', notBefore: at(15) });
    expect(step.actions[0]).toMatchObject({ kind: 'Emit', reason: 'MaintenanceScheduled', message: expect.stringContaining('replaces E1') });
  });

  test('after a replacement, a cordon made for the old event is re-labelled for the new one', () => {
    const step = nextMaintenanceStep(input({ current: status('Scheduled', { eventId: 'E2' }), active: plan({ id: 'E2' }), node: ours('E1') }));
    expect(step.actions[0]).toEqual({ kind: 'Cordon', eventId: 'E2' });
  });

  test('policy now says Taint for a node nodemeta cordoned: uncordon, back to Scheduled', () => {
    const step = nextMaintenanceStep(input({ current: status('Cordoned'), active: plan({}, 'azure', config('policy: {Reboot: {action: Taint}}')), node: ours() }));
    expect(step.status.phase).toBe('Scheduled');
    expect(kinds(step)).toEqual(['Uncordon']);
  });

  test.each<[string, MaintenanceStatus, string, MaintenanceStatus['phase'], string[]]>([
    ['Draining, spec.drain: Disabled (policy says Taint) → Scheduled, uncordoned', draining(), 'Taint', 'Scheduled', ['Uncordon', 'Emit:DrainStopped']],
    ['Drained with approval asked, drain disabled → Scheduled, request withdrawn', status('Drained', { approve: 'E1' }), 'Taint', 'Scheduled', ['ClearApprovalRequest', 'Uncordon', 'Emit:DrainStopped']],
    ['Failed, policy now Cordon → Cordoned, stays cordoned', status('Failed'), 'Cordon', 'Cordoned', ['Emit:DrainStopped']],
  ])('%s', (_name, current, action, phase, actions) => {
    const cfg = config(`policy: {Reboot: {action: ${action}}}`);
    const step = nextMaintenanceStep(input({ current, active: plan({}, 'azure', cfg), node: ours(), config: cfg, pods: podsPlan([pod('a')]) }));
    expect(step.status).toMatchObject({ phase, eventId: 'E1' });
    expect(step.status.approve).toBeUndefined();
    expect(step.status.startedTime).toBeUndefined();
    expect(kinds(step)).toEqual(actions);
  });

  test('an approved event is under way: a policy change does not undo it', () => {
    const step = nextMaintenanceStep(input({ current: status('Approved'), active: plan({}, 'azure', config('policy: {Reboot: {action: Taint}}')), node: ours() }));
    expect(step).toEqual({ status: status('Approved'), actions: [] });
  });

  test('not due yet: requeue at the start of the action', () => {
    const step = nextMaintenanceStep(input({ current: status('Scheduled', { notBefore: at(36 * 60) }), active: plan({ notBefore: at(36 * 60) }, 'alibaba'), provider: 'alibaba' }));
    expect(step.requeueAfterMs).toBe(35 * 3600_000);
  });
});

describe('drain budget vs deadline', () => {
  const full = { draining: 3, limit: 3 };
  // maxGracePeriod 5m + 10 s margin: a node waiting for budget drains once NotBefore is 5m10s away.
  test.each<[string, Partial<MaintenanceInput>, MaintenanceStatus['phase']]>([
    ['budget full, NotBefore 15 min away: waits cordoned', { current: status('Cordoned'), active: plan(), node: ours(), budget: full }, 'Cordoned'],
    ['budget full, NotBefore 5 min away: drains anyway', { current: status('Cordoned', { notBefore: at(5) }), active: plan({ notBefore: at(5) }), node: ours(), budget: full }, 'Draining'],
    ['budget full, wait until just before the forced start', { current: status('Cordoned'), active: plan({}, 'azure', defaults, later(9.8)), node: ours(), budget: full, now: later(9.8) }, 'Cordoned'],
    ['budget full, forced start reached', { current: status('Cordoned'), active: plan({}, 'azure', defaults, later(9.9)), node: ours(), budget: full, now: later(9.9) }, 'Draining'],
    ['budget full, Preempt (30 s notice): drains at once', { current: status('Scheduled', { eventType: 'Preempt', notBefore: at(0.5) }), active: plan({ type: 'Preempt', notBefore: at(0.5) }), budget: full }, 'Draining'],
    ['budget full, spot termination: drains at once', { current: { phase: 'Scheduled', eventId: SPOT_TERMINATION_EVENT_ID, eventType: 'SpotTermination', notBefore: at(2) }, active: plan({ id: SPOT_TERMINATION_EVENT_ID, type: 'SpotTermination', notBefore: at(2) }, 'alibaba'), budget: full }, 'Draining'],
    ['budget full, event already started (no NotBefore): drains at once', { current: status('Scheduled', { notBefore: undefined }), active: plan({ notBefore: undefined, started: true }), budget: full }, 'Draining'],
    ['budget has room (2 of 3): drains', { current: status('Scheduled'), active: plan(), budget: { draining: 2, limit: 3 } }, 'Draining'],
  ])('%s', (_name, overrides, phase) => {
    expect(nextMaintenanceStep(input(overrides)).status.phase).toBe(phase);
  });

  test('waiting for budget: requeue at the forced start, no actions', () => {
    const step = nextMaintenanceStep(input({ current: status('Cordoned'), active: plan(), node: ours(), budget: full }));
    expect(step.actions).toEqual([]);
    expect(step.requeueAfterMs).toBe(15 * 60_000 - 5 * 60_000 - 10_000);
  });

  test('the forced drain says so in its Event', () => {
    const step = nextMaintenanceStep(input({ current: status('Cordoned', { notBefore: at(5) }), active: plan({ notBefore: at(5) }), node: ours(), budget: full }));
    expect(step.actions.find((action) => action.kind === 'Emit')).toMatchObject({ reason: 'DrainStarted', message: expect.stringContaining('beyond the budget') });
  });

  test('a node already Draining keeps draining when the budget fills up', () => {
    const step = nextMaintenanceStep(input({ current: draining(), active: plan(), node: ours(), budget: full, pods: podsPlan([pod('a')]) }));
    expect(step.status.phase).toBe('Draining');
    expect(kinds(step)).toEqual(['EvictPods']);
  });
});

describe('evictions: retries, PDB reporting, grace period', () => {
  const pods = [pod('a'), pod('b')];
  /** A refused attempt carries the retry time the ledger drew for it (evictor.ts): `retryAfterMs` after it. */
  const attempt = (name: string, minutesAgo: number, attempts = 1, blockedBy?: string, retryAfterMs = 5_000): EvictionAttempt => {
    const record: EvictionAttempt = { uid: `uid-${name}`, attempts, lastAttemptMs: now.getTime() - minutesAgo * 60_000 };
    if (blockedBy !== undefined) {
      record.blockedBy = blockedBy;
      record.retryAtMs = record.lastAttemptMs + retryAfterMs;
    }
    return record;
  };

  test('a pod refused by a PDB is retried after the backoff, and reported with the PDB', () => {
    const pdb = 'PodDisruptionBudget default/web allows no disruption';
    const base = { current: draining(), active: plan(), node: ours(), pods: podsPlan(pods) };
    const waiting = nextMaintenanceStep(input({ ...base, evictions: [attempt('a', 0.05, 1, pdb), attempt('b', 0.05, 1, pdb)] }));
    expect(waiting.actions).toEqual([]);
    expect(waiting.requeueAfterMs).toBe(2_000);
    expect(waiting.status.blockedPods).toEqual([
      { namespace: 'default', name: 'a', reason: pdb },
      { namespace: 'default', name: 'b', reason: pdb },
    ]);
    const retry = nextMaintenanceStep(input({ ...base, evictions: [attempt('a', 0.1, 1, pdb), attempt('b', 0.05, 1, pdb)] }));
    expect(retry.actions).toEqual([{ kind: 'EvictPods', pods: [expect.objectContaining({ name: 'a' })] }]);
  });

  test('a refused pod waits for the retry time the ledger drew, whatever its attempt count, and the step requeues for it', () => {
    const base = { current: draining(), active: plan({ notBefore: at(120) }), node: ours(), pods: podsPlan([pod('a')]) };
    const refused = 'the API server answered 503';
    const waiting = nextMaintenanceStep(input({ ...base, evictions: [attempt('a', 0.25, 3, refused, 17_000)] })); // 15 s ago, due after 17 s
    expect(waiting.actions).toEqual([]);
    expect(waiting.requeueAfterMs).toBe(2_000);
    expect(kinds(nextMaintenanceStep(input({ ...base, evictions: [attempt('a', 0.25, 3, refused, 15_000)] })))).toEqual(['EvictPods']);
    expect(kinds(nextMaintenanceStep(input({ ...base, evictions: [attempt('a', 0.01, 10, refused, 0)] })))).toEqual(['EvictPods']);
  });

  test('a pod whose eviction was accepted is never evicted again, however long the cache shows it running', () => {
    const base = { current: draining(), active: plan({ notBefore: at(120) }), node: ours(), pods: podsPlan([pod('a'), pod('b')]) };
    for (const minutesAgo of [0.1, 1, 10]) {
      const step = nextMaintenanceStep(input({ ...base, evictions: [attempt('a', minutesAgo)] }));
      expect(step.actions).toEqual([expect.objectContaining({ kind: 'EvictPods', pods: [expect.objectContaining({ name: 'b' })] })]);
    }
    const both = nextMaintenanceStep(input({ ...base, evictions: [attempt('a', 10), attempt('b', 10)] }));
    expect(both.actions).toEqual([]);
    expect(both.status.phase).toBe('Draining');
    expect(both.requeueAfterMs).toBe(POLL_MS); // look again; the pod watch says when they are gone
  });

  test('Failed names the blocking PDB in lastError', () => {
    const pdb = 'PodDisruptionBudget shop/checkout allows no disruption';
    const step = nextMaintenanceStep(input({ current: draining({ startedTime: at(-30) }), active: plan(), node: ours(), pods: podsPlan([pod('a')]), evictions: [attempt('a', 0.5, 20, pdb)] }));
    expect(step.status.phase).toBe('Failed');
    expect(step.status.lastError).toContain('shop/checkout');
    expect(step.actions).not.toContainEqual({ kind: 'Uncordon' });
  });

  test('pods blocked by configuration (unmanaged) keep the drain open and are reported', () => {
    const step = nextMaintenanceStep(input({ current: draining(), active: plan(), node: ours(), pods: podsPlan([pod('bare', { ownerKinds: [] })]) }));
    expect(step.status.phase).toBe('Draining');
    expect(step.status.blockedPods).toEqual([{ namespace: 'default', name: 'bare', reason: expect.stringContaining('unmanaged') }]);
  });

  test('blockedPods is bounded to the CRD maximum (20)', () => {
    const many = Array.from({ length: 30 }, (_, i) => pod(`bare-${String(i).padStart(2, '0')}`, { ownerKinds: [] }));
    expect(nextMaintenanceStep(input({ current: draining(), active: plan(), node: ours(), pods: podsPlan(many) })).status.blockedPods).toHaveLength(20);
  });

  test('grace period capped so evictions end before NotBefore', () => {
    const notBefore = now.getTime() + 60_000;
    const step = nextMaintenanceStep(input({ current: status('Scheduled', { notBefore: at(1) }), active: plan({ notBefore: at(1) }), pods: podsPlan([pod('slow', { terminationGracePeriodSeconds: 600 })], defaults, now, notBefore) }));
    expect(step.actions.find((action) => action.kind === 'EvictPods')).toMatchObject({ pods: [{ name: 'slow', gracePeriodSeconds: 50 }] });
  });
});

describe('approval', () => {
  const drained = (extra: Partial<MaintenanceStatus> = {}) => ({ current: status('Drained', extra), active: plan(), node: ours() });

  test.each<[string, Partial<MaintenanceInput>]>([
    ['a node in Resources is not drained yet', { ...drained(), approval: { resourcesDrained: false, approvedEventIds: [] } }],
    ['approve: Never', { ...drained(), config: config('approve: Never'), approval: { resourcesDrained: true, approvedEventIds: [] } }],
    ['Alibaba has no approval step', { ...drained(), provider: 'alibaba', approval: { resourcesDrained: true, approvedEventIds: [] } }],
    [
      'a spot reclaim has no approval step',
      { current: { phase: 'Drained', eventId: SPOT_TERMINATION_EVENT_ID, eventType: 'SpotTermination' }, active: plan({ id: SPOT_TERMINATION_EVENT_ID, type: 'SpotTermination', notBefore: at(2) }), node: ours(SPOT_TERMINATION_EVENT_ID), approval: { resourcesDrained: true, approvedEventIds: [] } },
    ],
    ['already asked: not asked twice', { ...drained({ approve: 'E1' }), approval: { resourcesDrained: true, approvedEventIds: [] } }],
    ['Approved: never asked again', { current: status('Approved'), active: plan(), node: ours(), approval: { resourcesDrained: true, approvedEventIds: ['E1'] } }],
  ])('no request: %s', (_name, overrides) => {
    const step = nextMaintenanceStep(input(overrides));
    expect(step.actions).toEqual([]);
    expect(step.status.approve ?? overrides.current?.approve).toBe(overrides.current?.approve);
  });

  test('the request is data in the status: approve = event id', () => {
    const step = nextMaintenanceStep(input({ ...drained(), approval: { resourcesDrained: true, approvedEventIds: [] } }));
    expect(step.status).toMatchObject({ phase: 'Drained', approve: 'E1' });
    expect(step.actions[0]).toEqual({ kind: 'RequestApproval', eventId: 'E1' });
  });

  test('agent approved: Approved, request cleared, never asked again', () => {
    const step = nextMaintenanceStep(input({ ...drained({ approve: 'E1' }), approval: { resourcesDrained: true, approvedEventIds: ['E1'] } }));
    expect(step.status.phase).toBe('Approved');
    expect(step.status.approve).toBeUndefined();
    const again = nextMaintenanceStep(input({ current: step.status, active: plan(), node: ours(), approval: { resourcesDrained: true, approvedEventIds: ['E1'] } }));
    expect(again.actions).toEqual([]);
  });

  test('a neighbour stops being drained before the agent approved: the request is withdrawn', () => {
    const step = nextMaintenanceStep(input({ ...drained({ approve: 'E1' }), approval: { resourcesDrained: false, approvedEventIds: [] } }));
    expect(step.status.approve).toBeUndefined();
    expect(kinds(step)).toEqual(['ClearApprovalRequest', 'Emit:ApprovalWithdrawn']);
  });

  describe('approval windows', () => {
    // `now` is Sunday 2026-11-22 04:00 UTC.
    const closed = config('approvalWindows: [{days: [Sat], start: "22:00", end: "02:00", timeZone: UTC}]');
    const open = config('approvalWindows: [{days: [Sun], start: "03:00", end: "05:00"}]');
    const ready = { approval: { resourcesDrained: true, approvedEventIds: [] } };

    test('inside a window: asked as without windows', () => {
      const step = nextMaintenanceStep(input({ ...drained(), ...ready, config: open }));
      expect(kinds(step)).toEqual(['RequestApproval', 'Emit:ApprovalRequested']);
    });

    test('outside every window: not asked; status and one Event say until when; then it waits quietly', () => {
      const step = nextMaintenanceStep(input({ ...drained(), ...ready, config: closed }));
      expect(step.status).toMatchObject({ phase: 'Drained', approvalWaitsUntil: '2026-11-28T22:00:00Z' });
      expect(step.status.approve).toBeUndefined();
      expect(kinds(step)).toEqual(['Emit:ApprovalWaitingForWindow']);
      expect(step.actions[0]).toMatchObject({ message: expect.stringMatching(/window opening at 2026-11-28T22:00:00Z \(Sat 22:00–02:00 UTC\); otherwise the platform starts it at NotBefore/) });
      const again = nextMaintenanceStep(input({ ...drained(), ...ready, config: closed, current: step.status }));
      expect(again.actions).toEqual([]);
      expect(again.requeueAfterMs).toBe(Date.parse('2026-11-28T22:00:00Z') - now.getTime());
    });

    test('the window opens: asked, and the wait leaves the status', () => {
      const waiting = status('Drained', { approvalWaitsUntil: '2026-11-22T03:00:00Z' });
      const step = nextMaintenanceStep(input({ current: waiting, active: plan(), node: ours(), ...ready, config: open }));
      expect(step.status.approve).toBe('E1');
      expect(step.status.approvalWaitsUntil).toBeUndefined();
    });

    test('the window closes before the agent approved: the request is withdrawn', () => {
      const step = nextMaintenanceStep(input({ ...drained({ approve: 'E1' }), ...ready, config: closed }));
      expect(step.status.approve).toBeUndefined();
      expect(kinds(step)).toEqual(['ClearApprovalRequest', 'Emit:ApprovalWithdrawn']);
      expect(step.actions[1]).toMatchObject({ message: expect.stringMatching(/approval window closed/) });
    });

    test('approved anyway (by a neighbour\'s agent, or a person): Approved, the wait cleared', () => {
      const step = nextMaintenanceStep(input({ ...drained({ approvalWaitsUntil: '2026-11-28T22:00:00Z' }), approval: { resourcesDrained: true, approvedEventIds: ['E1'] }, config: closed }));
      expect(step.status.phase).toBe('Approved');
      expect(step.status.approvalWaitsUntil).toBeUndefined();
    });

    test('a bad time zone is a configuration error', () => {
      const result = parseConfig('approvalWindows: [{days: [Sun], start: "03:00", end: "05:00", timeZone: Mars/Olympus}]');
      expect(result).toEqual({ ok: false, errors: ['approvalWindows[0].timeZone: must be an IANA time zone such as UTC or Europe/Amsterdam (got "Mars/Olympus")'] });
      expect(parseConfig('approvalWindows: [{days: [Sun], start: "3:00", end: "05:00"}]').ok).toBe(false);
      expect(parseConfig('approvalWindows: [{days: [], start: "03:00", end: "05:00"}]').ok).toBe(false);
    });
  });

  test('an approval recorded for another event does not count', () => {
    const step = nextMaintenanceStep(input({ ...drained({ approve: 'E1' }), approval: { resourcesDrained: true, approvedEventIds: ['E0'] } }));
    expect(step.status.phase).toBe('Drained');
  });

  test('an event that has started (no NotBefore any more) is not approved: it is under way', () => {
    const started = plan({ notBefore: undefined, started: true });
    const step = nextMaintenanceStep(input({ current: status('Drained'), active: started, node: ours(), approval: { resourcesDrained: true, approvedEventIds: [] } }));
    expect(kinds(step)).not.toContain('RequestApproval');
    expect(step.status.approve).toBeUndefined();
    expect(step.status.notBefore).toBeUndefined();
  });

  test('a request made before the event started is not withdrawn when a neighbour completes first', () => {
    const started = plan({ notBefore: undefined, started: true });
    const step = nextMaintenanceStep(input({ current: status('Drained', { approve: 'E1' }), active: started, node: ours(), approval: { resourcesDrained: false, approvedEventIds: [] } }));
    expect(kinds(step)).not.toContain('Emit:ApprovalWithdrawn');
    expect(step.status.approve).toBe('E1');
  });

  test('no request before the node itself is drained', () => {
    const step = nextMaintenanceStep(input({ current: draining(), active: plan(), node: ours(), pods: podsPlan([pod('a')]), approval: { resourcesDrained: true, approvedEventIds: [] } }));
    expect(step.status.approve).toBeUndefined();
    expect(kinds(step)).not.toContain('RequestApproval');
  });
});

describe('NotBefore follows the platform', () => {
  test('a NotBefore Azure moved is written to the status', () => {
    const step = nextMaintenanceStep(input({ current: status('Drained'), active: plan({ notBefore: at(25) }), node: ours() }));
    expect(step.status.notBefore).toBe(at(25));
  });

  test('an event that started and then left the metadata service is over, not cancelled', () => {
    // Started (a neighbour's approval starts it for every VM in Resources): NotBefore goes.
    const started = nextMaintenanceStep(input({ current: status('Drained'), active: plan({ notBefore: undefined, started: true }), node: ours() }));
    expect(started.status.notBefore).toBeUndefined();
    const gone = nextMaintenanceStep(input({ current: started.status, node: ours() }));
    expect(kinds(gone)).toEqual(['Uncordon', 'Emit:MaintenanceCompleted']);
  });
});

describe('ran or cancelled', () => {
  test('gone before NotBefore after a neighbour approved it (its VM was rebooted before its agent saw Started): completed, not cancelled', () => {
    const step = nextMaintenanceStep(input({ current: status('Drained', { approve: 'E1' }), node: ours(), approval: { resourcesDrained: true, approvedEventIds: [], approvedByPeers: ['E1'] } }));
    expect(kinds(step)).toEqual(['Uncordon', 'ClearApprovalRequest', 'Emit:MaintenanceCompleted']);
  });

  test('its own agent approved but Approved was never written (a crash): completed', () => {
    const step = nextMaintenanceStep(input({ current: status('Drained', { approve: 'E1' }), node: ours(), approval: { resourcesDrained: true, approvedEventIds: ['E1'] } }));
    expect(kinds(step)).toContain('Emit:MaintenanceCompleted');
  });

  test('a neighbour approved another event: still cancelled', () => {
    const step = nextMaintenanceStep(input({ current: status('Drained'), node: ours(), approval: { resourcesDrained: true, approvedEventIds: [], approvedByPeers: ['E0'] } }));
    expect(kinds(step)).toContain('Emit:MaintenanceCancelled');
  });
});

describe('completion, cancellation, and whose cordon it is', () => {
  test.each<[string, Partial<MaintenanceInput>, string[]]>([
    ['nodemeta cordoned it for this event: uncordoned', { current: status('Approved', { notBefore: at(-5) }), node: ours() }, ['Uncordon', 'Emit:MaintenanceCompleted']],
    ['an admin cordoned it: stays cordoned', { current: status('Drained', { notBefore: at(-5) }), node: adminCordoned }, ['Emit:MaintenanceCompleted']],
    ['cordoned by nodemeta for an event it replaced, no event left: uncordoned (never cordoned forever)', { current: status('Scheduled', { notBefore: at(-5) }), node: ours('E0') }, ['Uncordon', 'Emit:MaintenanceCompleted']],
    ['uncordonAfterCompletion: false: stays cordoned', { current: status('Drained', { notBefore: at(-5) }), node: ours(), config: config('uncordonAfterCompletion: false') }, ['Emit:MaintenanceCompleted']],
    ['cancelled before NotBefore while draining: undone the same way', { current: draining(), node: ours() }, ['Uncordon', 'Emit:MaintenanceCancelled']],
    ['cancelled while waiting for budget', { current: status('Cordoned'), node: ours() }, ['Uncordon', 'Emit:MaintenanceCancelled']],
    ['cancelled while only Scheduled: nothing to undo', { current: status('Scheduled') }, ['Emit:MaintenanceCancelled']],
    ['approval asked, then cancelled: request cleared', { current: status('Drained', { approve: 'E1' }), node: ours() }, ['Uncordon', 'ClearApprovalRequest', 'Emit:MaintenanceCancelled']],
    [
      'uncordoned by hand meanwhile, the exclusion label still ours: given back',
      { current: status('Drained', { notBefore: at(-5) }), node: { ...schedulable, excludedFromLoadBalancers: true } },
      ['Uncordon', 'Emit:MaintenanceCompleted'],
    ],
  ])('%s', (_name, overrides, actions) => {
    const step = nextMaintenanceStep(input(overrides));
    expect(step.status.phase).toBe('Completed');
    expect(step.status.completedTime).toBe(at(0));
    expect(step.status.approve).toBeUndefined();
    expect(kinds(step)).toEqual(actions);
  });

  test('the event is gone but the node is not Ready yet: wait, touch nothing', () => {
    const step = nextMaintenanceStep(input({ current: status('Approved', { notBefore: at(-5) }), node: { ...ours(), ready: false } }));
    expect(step.status.phase).toBe('Approved');
    expect(step.actions).toEqual([]);
    expect(step.requeueAfterMs).toBeGreaterThan(0);
  });

  test('caches cold: an event that seems gone is not trusted to be gone', () => {
    const step = nextMaintenanceStep(input({ current: status('Approved'), node: ours(), cacheWarm: false }));
    expect(step).toEqual({ status: status('Approved'), actions: [] });
  });

  test.each<[string, MaintenanceStatus['phase']]>([
    ['Cordoned', 'Cordoned'],
    ['Draining', 'Draining'],
    ['Drained', 'Drained'],
    ['Approved', 'Approved'],
  ])('an admin cordon is never taken over while %s: no Cordon, no annotation', (_name, phase) => {
    const step = nextMaintenanceStep(input({ current: status(phase, { startedTime: at(0) }), active: plan(), node: adminCordoned, budget: { draining: 9, limit: 1 } }));
    expect(step.actions.filter((action) => action.kind === 'Cordon' || action.kind === 'Uncordon')).toEqual([]);
  });

  test('someone uncordoned the node mid-drain: cordoned again', () => {
    const step = nextMaintenanceStep(input({ current: draining(), active: plan(), node: schedulable, pods: podsPlan([pod('a')]) }));
    expect(step.actions[0]).toEqual({ kind: 'Cordon', eventId: 'E1' });
  });

  test('an admin-cordoned node drains without Cordon and is not uncordoned afterwards', () => {
    const start = nextMaintenanceStep(input({ current: status('Scheduled'), active: plan(), node: adminCordoned, pods: podsPlan([pod('a')]) }));
    expect(kinds(start)).toEqual(['EvictPods', 'Emit:DrainStarted']);
  });
});

describe('resume after a crash at each step (no double work)', () => {
  test('status Draining, nothing in flight: re-plans evictions for the pods still there only', () => {
    // Before the crash: a, b, c were evicted; a is gone, b is terminating, c's eviction was lost.
    const pods = [pod('b', { deletionTimestamp: at(-1) }), pod('c'), pod('ds', { ownerKinds: ['DaemonSet'] })];
    const step = nextMaintenanceStep(input({ current: draining({ totalPods: 3, pendingPods: 3 }), active: plan(), node: ours(), pods: podsPlan(pods), evictions: [] }));
    expect(step.status).toMatchObject({ phase: 'Draining', totalPods: 3, pendingPods: 2, evictedPods: 1 });
    expect(step.actions).toEqual([{ kind: 'EvictPods', pods: [expect.objectContaining({ name: 'c' })] }]);
  });

  test('crash after Cordon, before the status write: no second Cordon', () => {
    const step = nextMaintenanceStep(input({ current: status('Scheduled'), active: plan(), node: ours(), pods: podsPlan([pod('a')]) }));
    expect(step.status.phase).toBe('Draining');
    expect(kinds(step)).not.toContain('Cordon');
  });

  test('crash after the last eviction, before Drained was written: Drained, no eviction', () => {
    const step = nextMaintenanceStep(input({ current: draining(), active: plan(), node: ours(), pods: podsPlan([pod('ds', { ownerKinds: ['DaemonSet'] })]) }));
    expect(step.status.phase).toBe('Drained');
    expect(kinds(step)).not.toContain('EvictPods');
  });

  test('crash after the approval was asked and made, before Approved was written: no second request', () => {
    const step = nextMaintenanceStep(input({ current: status('Drained', { approve: 'E1' }), active: plan(), node: ours(), approval: { resourcesDrained: true, approvedEventIds: ['E1'] } }));
    expect(step.status.phase).toBe('Approved');
    expect(kinds(step)).not.toContain('RequestApproval');
  });

  test('crash after Uncordon, before Completed was written: Completed, no second Uncordon', () => {
    const step = nextMaintenanceStep(input({ current: status('Approved', { notBefore: at(-5) }), node: schedulable }));
    expect(step.status.phase).toBe('Completed');
    expect(kinds(step)).toEqual(['Emit:MaintenanceCompleted']);
  });

  test('a new leader starting with status Cordoned and a full budget keeps waiting', () => {
    const step = nextMaintenanceStep(input({ current: status('Cordoned'), active: plan(), node: ours(), budget: { draining: 1, limit: 1 } }));
    expect(step.actions).toEqual([]);
  });
});

// ---- idempotence: a small world that applies the actions, then the machine is fed its own output ----

interface World {
  status: MaintenanceStatus | undefined;
  node: NodeScheduling;
  pods: DrainPod[];
  evictions: EvictionAttempt[];
  approvals: string[];
  pdbBlocked: Set<string>;
}

function apply(world: World, actions: Action[], when: Date): void {
  for (const action of actions) {
    if (action.kind === 'Cordon') world.node = { ...world.node, unschedulable: true, cordonedFor: action.eventId };
    if (action.kind === 'Uncordon') world.node = { ...world.node, unschedulable: false, cordonedFor: undefined };
    if (action.kind === 'EvictPods') {
      for (const target of action.pods) {
        if (world.pdbBlocked.has(target.name)) {
          const previous = world.evictions.find((attempt) => attempt.uid === target.uid);
          // The retry time as the ledger draws it at the top of the first window (random just below 1).
          world.evictions = [...world.evictions.filter((attempt) => attempt.uid !== target.uid), { uid: target.uid, attempts: (previous?.attempts ?? 0) + 1, lastAttemptMs: when.getTime(), blockedBy: 'PodDisruptionBudget default/pdb allows no disruption', retryAtMs: when.getTime() + 5_000 }];
        } else {
          world.pods = world.pods.map((p) => (p.uid === target.uid ? { ...p, deletionTimestamp: when.toISOString() } : p));
        }
      }
    }
  }
}

/** Steps until the machine asks for nothing more; returns every step taken. */
function settle(world: World, facts: (world: World) => Partial<MaintenanceInput>, when = now): MaintenanceStep[] {
  const steps: MaintenanceStep[] = [];
  for (let i = 0; i < 20; i++) {
    const step = nextMaintenanceStep(input({ current: world.status, node: world.node, pods: podsPlan(world.pods, defaults, when), evictions: world.evictions, now: when, approval: { resourcesDrained: true, approvedEventIds: world.approvals }, ...facts(world) }));
    steps.push(step);
    apply(world, step.actions, when);
    const unchanged = JSON.stringify(step.status) === JSON.stringify(world.status);
    world.status = step.status;
    if (step.actions.length === 0 && unchanged) return steps;
  }
  throw new Error('did not settle');
}

describe('idempotence: fed its own output with unchanged facts, it asks for nothing', () => {
  const newWorld = (): World => ({ status: undefined, node: schedulable, pods: [pod('a'), pod('b'), pod('ds', { ownerKinds: ['DaemonSet'] })], evictions: [], approvals: [], pdbBlocked: new Set() });

  test('a whole Azure maintenance, settling at every phase', () => {
    const world = newWorld();
    const active = plan();
    const phases: string[] = [];
    const track = (steps: MaintenanceStep[]) => phases.push(steps.at(-1)!.status.phase);

    track(settle(world, () => ({ active })));
    expect(world.status?.phase).toBe('Draining');
    expect(world.pods.filter((p) => p.deletionTimestamp !== undefined).map((p) => p.name)).toEqual(['a', 'b']);
    world.pods = world.pods.filter((p) => p.deletionTimestamp === undefined); // the kubelet finishes them
    track(settle(world, () => ({ active, approval: { resourcesDrained: false, approvedEventIds: [] } })));
    expect(world.status?.phase).toBe('Drained');
    track(settle(world, () => ({ active })));
    expect(world.status).toMatchObject({ phase: 'Drained', approve: 'E1' });
    world.approvals = ['E1']; // the agent approved
    track(settle(world, () => ({ active })));
    expect(world.status?.phase).toBe('Approved');
    const gone = later(20);
    world.node = { ...world.node, ready: false }; // the reboot
    track(settle(world, () => ({ active: undefined }), gone));
    expect(world.status?.phase).toBe('Approved');
    world.node = { ...world.node, ready: true };
    track(settle(world, () => ({ active: undefined }), gone));
    expect(world.status?.phase).toBe('Completed');
    expect(world.node).toEqual(schedulable);
    expect(phases).toEqual(['Draining', 'Drained', 'Drained', 'Approved', 'Approved', 'Completed']);
  });

  test('each action happens once over the whole run', () => {
    const world = newWorld();
    const active = plan();
    const all: Action[] = [];
    all.push(...settle(world, () => ({ active })).flatMap((step) => step.actions));
    world.pods = world.pods.filter((p) => p.deletionTimestamp === undefined);
    all.push(...settle(world, () => ({ active })).flatMap((step) => step.actions));
    world.approvals = ['E1'];
    all.push(...settle(world, () => ({ active })).flatMap((step) => step.actions));
    all.push(...settle(world, () => ({ active: undefined }), later(20)).flatMap((step) => step.actions));
    const count = (kind: Action['kind']) => all.filter((action) => action.kind === kind).length;
    expect([count('Cordon'), count('EvictPods'), count('RequestApproval'), count('ClearApprovalRequest'), count('Uncordon')]).toEqual([1, 1, 1, 1, 1]);
  });

  test('a PDB-blocked pod: settles with no new eviction until the backoff passes', () => {
    const world = newWorld();
    world.pdbBlocked.add('a');
    const active = plan();
    const steps = settle(world, () => ({ active }));
    expect(world.status?.phase).toBe('Draining');
    expect(steps.at(-1)!.requeueAfterMs).toBe(5_000);
    expect(world.status?.blockedPods).toEqual([{ namespace: 'default', name: 'a', reason: 'PodDisruptionBudget default/pdb allows no disruption' }]);
    const retried = settle(world, () => ({ active }), new Date(now.getTime() + 5_000));
    expect(retried.flatMap((step) => step.actions)).toEqual([{ kind: 'EvictPods', pods: [expect.objectContaining({ name: 'a' })] }]);
  });

  test('waiting for budget settles cordoned, then drains when the budget frees up', () => {
    const world = newWorld();
    const active = plan();
    settle(world, () => ({ active, budget: { draining: 1, limit: 1 } }));
    expect(world.status?.phase).toBe('Cordoned');
    expect(world.node).toEqual(ours());
    settle(world, () => ({ active, budget: { draining: 0, limit: 1 } }));
    expect(world.status?.phase).toBe('Draining');
  });
});

describe('a cordon of nodemeta\'s that no maintenance on record explains (the NodeMetadata deleted and its event over meanwhile)', () => {
  test.each<[string, Partial<MaintenanceInput>, string[]]>([
    ['no event, no maintenance on record, cordoned by nodemeta: given back', { current: undefined, node: ours() }, ['Uncordon', 'Emit:MaintenanceCompleted']],
    ['the same with phase None', { current: { phase: 'None' }, node: ours() }, ['Uncordon', 'Emit:MaintenanceCompleted']],
    ['caches cold: nothing yet', { current: undefined, node: ours(), cacheWarm: false }, []],
    ['the node NotReady (the maintenance itself may be under way): nothing yet', { current: undefined, node: { ...ours(), ready: false } }, []],
    ['uncordonAfterCompletion: false: stays cordoned', { current: undefined, node: ours(), config: config('uncordonAfterCompletion: false') }, []],
    ['Completed with the cordon left (uncordonAfterCompletion off then): left alone', { current: status('Completed'), node: ours() }, []],
    ['an admin\'s cordon: never touched', { current: undefined, node: adminCordoned }, []],
  ])('%s', (_name, overrides, actions) => {
    expect(kinds(nextMaintenanceStep(input(overrides)))).toEqual(actions);
  });
});

describe('the load-balancer exclusion of a node back in service', () => {
  const excluded = (unschedulable: boolean): NodeScheduling => ({ unschedulable, cordonedFor: undefined, excludedFromLoadBalancers: true, ready: true });
  test.each<[string, Partial<MaintenanceInput>, string[]]>([
    ['no event, uncordoned by hand, nodemeta\'s exclusion left: removed', { current: status('Completed'), node: excluded(false) }, ['Uncordon']],
    ['no event, still cordoned (uncordonAfterCompletion: false): kept with the cordon', { current: status('Completed'), node: excluded(true) }, []],
    ['no event, caches cold: nothing yet', { current: status('Completed'), node: excluded(false), cacheWarm: false }, []],
    ['no event, no exclusion of ours: nothing', { current: status('Completed'), node: schedulable }, []],
  ])('%s', (_name, overrides, actions) => {
    const step = nextMaintenanceStep(input(overrides));
    expect(step.status.phase).toBe('Completed');
    expect(kinds(step)).toEqual(actions);
  });
});
