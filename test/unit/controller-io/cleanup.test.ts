import { describe, expect, it } from '@jest/globals';
import { cleanNode, cleanNodes, isClean, planNodeCleanup, summaryLine, type CleanupWriter } from '../../../src/controller/cleanup.js';
import { takeLease } from '../../../src/runtime/lease-takeover.js';
import { WriteConflictError, type NodeState } from '../../../src/controller/cache/cluster-state.js';
import type { LeaseRecord, LeaseStore } from '../../../src/runtime/leader-election.js';
import type { Logger } from '../../../src/observability/logger.js';
import type { Taint } from '../../../src/controller/decide/taints.js';
import { FakeClock } from '../runtime/fake-clock.js';

const applyEntry = (manager: string, labels: string[]) => ({
  manager,
  operation: 'Apply',
  fieldsType: 'FieldsV1',
  fieldsV1: { 'f:metadata': { 'f:labels': Object.fromEntries(labels.map((key) => [`f:${key}`, {}])) } },
});

function node(overrides: { labels?: Record<string, string>; owned?: string[]; foreignOwned?: string[]; taints?: Taint[]; annotations?: Record<string, string>; unschedulable?: boolean } = {}): NodeState {
  const managedFields = [];
  if (overrides.owned) managedFields.push(applyEntry('nodemeta-controller', overrides.owned));
  if (overrides.foreignOwned) managedFields.push(applyEntry('someone-else', overrides.foreignOwned));
  return {
    metadata: {
      name: 'n1',
      labels: overrides.labels ?? {},
      ...(overrides.annotations ? { annotations: overrides.annotations } : {}),
      managedFields,
    },
    spec: { ...(overrides.taints ? { taints: overrides.taints } : {}), ...(overrides.unschedulable === undefined ? {} : { unschedulable: overrides.unschedulable }) },
  };
}

describe('planNodeCleanup', () => {
  it('removes the labels nodemeta-controller owns, the nodemeta.io/ taints and nodemeta\'s cordon', () => {
    const plan = planNodeCleanup(
      node({
        labels: { 'nodemeta.io/zone': '1', 'tag.nodemeta.io/team': 'a', 'topology.kubernetes.io/zone': 'z', 'team': 'x' },
        owned: ['nodemeta.io/zone', 'tag.nodemeta.io/team', 'topology.kubernetes.io/zone'],
        taints: [
          { key: 'nodemeta.io/scheduled-event', value: 'Reboot', effect: 'NoSchedule' },
          { key: 'dedicated', value: 'gpu', effect: 'NoSchedule' },
          { key: 'nodemeta.io/spot-termination', effect: 'NoSchedule' },
        ],
        annotations: { 'nodemeta.io/cordoned': 'ev-1' },
        unschedulable: true,
      }),
    );
    expect(plan.labels).toEqual(['nodemeta.io/zone', 'tag.nodemeta.io/team', 'topology.kubernetes.io/zone']);
    expect(plan.applyEmptyLabels).toBe(true);
    expect(plan.taints.map((t) => t.key)).toEqual(['nodemeta.io/scheduled-event', 'nodemeta.io/spot-termination']);
    expect(plan.keepTaints).toEqual([{ key: 'dedicated', value: 'gpu', effect: 'NoSchedule' }]);
    expect(plan.uncordonFor).toBe('ev-1');
    expect(isClean(plan)).toBe(false);
  });

  it('never touches a nodemeta.io/ label another manager wrote, nor an admin\'s cordon', () => {
    const plan = planNodeCleanup(node({ labels: { 'nodemeta.io/zone': '1' }, foreignOwned: ['nodemeta.io/zone'], unschedulable: true }));
    expect(plan.labels).toEqual([]);
    expect(plan.applyEmptyLabels).toBe(false);
    expect(plan.uncordonFor).toBeUndefined();
    expect(isClean(plan)).toBe(true);
  });

  it('drops a claim on a label that is already gone (the apply releases the ownership)', () => {
    const plan = planNodeCleanup(node({ labels: {}, owned: ['nodemeta.io/zone'] }));
    expect(plan.labels).toEqual([]);
    expect(plan.applyEmptyLabels).toBe(true);
  });

  it('counts a node with nothing of nodemeta\'s as clean', () => {
    expect(isClean(planNodeCleanup(node({ labels: { a: 'b' }, taints: [{ key: 'x', effect: 'NoSchedule' }] })))).toBe(true);
    expect(isClean(planNodeCleanup({ metadata: { name: 'bare' } }))).toBe(true);
  });
});

const silent: Logger = { error: () => undefined, warn: () => undefined, info: () => undefined, debug: () => undefined } as unknown as Logger;

/** A writer over one in-memory node, with an optional conflict on the first taint patch. */
function fakeWriter(start: NodeState, conflicts = 0): CleanupWriter & { state: NodeState; calls: string[] } {
  const w = {
    state: structuredClone(start),
    calls: [] as string[],
    async applyLabels(_name: string, labels: Record<string, string>) {
      w.calls.push('applyLabels');
      expect(labels).toEqual({});
      const owned = planNodeCleanup(w.state).labels;
      for (const key of owned) delete w.state.metadata.labels![key];
      w.state.metadata.managedFields = (w.state.metadata.managedFields ?? []).filter((e) => e.manager !== 'nodemeta-controller');
      return structuredClone(w.state);
    },
    async patchTaints(_name: string, current: unknown, next: readonly Taint[]) {
      w.calls.push('patchTaints');
      if (conflicts-- > 0) {
        w.state.spec!.taints = [...(w.state.spec!.taints ?? []), { key: 'late', effect: 'NoSchedule' as const }];
        throw new WriteConflictError('taints changed');
      }
      expect(current).toEqual(w.state.spec?.taints);
      w.state.spec!.taints = [...next];
      return structuredClone(w.state);
    },
    async release(read: NodeState) {
      w.calls.push('release');
      expect(read.metadata.annotations).toEqual(w.state.metadata.annotations);
      const annotations = w.state.metadata.annotations!;
      if ('nodemeta.io/cordoned' in annotations) w.state.spec!.unschedulable = false;
      if (annotations['nodemeta.io/excluded-from-load-balancers'] !== undefined) delete w.state.metadata.labels!['node.kubernetes.io/exclude-from-external-load-balancers'];
      delete annotations['nodemeta.io/cordoned'];
      delete annotations['nodemeta.io/excluded-from-load-balancers'];
      return structuredClone(w.state);
    },
    async readNode() {
      w.calls.push('readNode');
      return structuredClone(w.state);
    },
  };
  return w;
}

describe('cleanNode', () => {
  const dirty = () =>
    node({
      labels: { 'nodemeta.io/zone': '1', other: 'x' },
      owned: ['nodemeta.io/zone'],
      taints: [{ key: 'nodemeta.io/spot-termination', effect: 'NoSchedule' }, { key: 'keep', effect: 'NoExecute' }],
      annotations: { 'nodemeta.io/cordoned': 'ev-9' },
      unschedulable: true,
    });

  it('cleans, then a second run changes nothing', async () => {
    const writer = fakeWriter(dirty());
    const first = await cleanNode(writer, dirty());
    expect(first).toEqual({ node: 'n1', labelsRemoved: ['nodemeta.io/zone'], taintsRemoved: ['nodemeta.io/spot-termination'], uncordoned: true, clean: true });
    expect(writer.state.metadata.labels).toEqual({ other: 'x' });
    expect(writer.state.spec).toEqual({ taints: [{ key: 'keep', effect: 'NoExecute' }], unschedulable: false });
    writer.calls.length = 0;
    const second = await cleanNode(writer, structuredClone(writer.state));
    expect(second).toEqual({ node: 'n1', labelsRemoved: [], taintsRemoved: [], uncordoned: false, clean: true });
    expect(writer.calls).toEqual([]);
  });

  it('removes the load-balancer exclusion nodemeta added, and only that one', async () => {
    const ours = node({ labels: { 'node.kubernetes.io/exclude-from-external-load-balancers': 'true' }, annotations: { 'nodemeta.io/cordoned': 'ev-9', 'nodemeta.io/excluded-from-load-balancers': 'true' }, unschedulable: true });
    expect(planNodeCleanup(ours)).toMatchObject({ uncordonFor: 'ev-9', loadBalancerExclusion: true });
    const writer = fakeWriter(ours);
    const result = await cleanNode(writer, structuredClone(ours));
    expect(result).toEqual({ node: 'n1', labelsRemoved: ['node.kubernetes.io/exclude-from-external-load-balancers'], taintsRemoved: [], uncordoned: true, clean: true });
    expect(writer.state.metadata.labels).toEqual({});

    const theirs = node({ labels: { 'node.kubernetes.io/exclude-from-external-load-balancers': 'true' } });
    expect(isClean(planNodeCleanup(theirs))).toBe(true);
  });

  it('re-reads and re-plans after a conflict, keeping the taint someone added meanwhile', async () => {
    const writer = fakeWriter(dirty(), 1);
    const result = await cleanNode(writer, dirty());
    expect(result.clean).toBe(true);
    expect(writer.calls).toContain('readNode');
    expect(writer.state.spec?.taints?.map((t) => t.key)).toEqual(['keep', 'late']);
  });

  it('reports a node it cannot clean instead of hiding it', async () => {
    const writer = fakeWriter(dirty(), 100);
    const result = await cleanNode(writer, dirty());
    expect(result.clean).toBe(false);
    expect(result.error).toMatch(/attempts/);
    const line = summaryLine({ nodes: 1, changed: 1, failed: [result], labelsRemoved: 1, taintsRemoved: 0, uncordoned: 0 });
    expect(line).toMatch(/1 NOT clean: n1/);
  });

  it('reports a hard error as a failure', async () => {
    const writer = fakeWriter(dirty());
    writer.release = async () => {
      throw new Error('forbidden');
    };
    const result = await cleanNode(writer, dirty());
    expect(result).toMatchObject({ clean: false, error: 'forbidden' });
  });
});

describe('cleanNodes', () => {
  it('reports a node whose re-read fails and still cleans the others', async () => {
    const broken = fakeWriter(node({ taints: [{ key: 'nodemeta.io/spot-termination', effect: 'NoSchedule' }] }), 1);
    broken.readNode = async () => {
      throw new Error('connection reset');
    };
    const summary = await cleanNodes(broken, [structuredClone(broken.state), { metadata: { name: 'n2' } }], silent);
    expect(summary).toMatchObject({ nodes: 2, changed: 0, failed: [{ node: 'n1', clean: false, error: 'connection reset' }] });
    expect(summaryLine(summary)).toMatch(/2 node\(s\), 0 changed .*1 NOT clean: n1 \(connection reset\)/);
  });
});

describe('nodemeta controller --help', () => {
  it('documents --cleanup', async () => {
    const { run } = await import('../../../src/cmd/controller.js');
    const lines: string[] = [];
    const log = console.log;
    console.log = (...args: unknown[]) => void lines.push(args.join(' '));
    try {
      expect(await run(['--help'])).toBe(0);
    } finally {
      console.log = log;
    }
    expect(lines.join('\n')).toMatch(/--cleanup\s+clean the nodes and exit/);
  });
});

describe('takeLease', () => {
  /** Each wait passes at once, the clock moved forward by it; `delays` says how long takeLease waited. */
  const clock = () => new FakeClock({ start: 1_000_000, autoAdvance: true });
  const waited = (c: FakeClock) => c.delays.reduce((sum, ms) => sum + ms, 0);
  const store = (initial?: LeaseRecord): LeaseStore & { record?: LeaseRecord } => {
    const s: LeaseStore & { record?: LeaseRecord } = {
      ...(initial ? { record: initial } : {}),
      async get() {
        return s.record && { ...s.record };
      },
      async create(r) {
        s.record = { ...r, resourceVersion: '1' };
        return s.record;
      },
      async update(r) {
        s.record = { ...r, resourceVersion: String(Number(r.resourceVersion) + 1) };
        return s.record;
      },
    };
    return s;
  };

  it('takes a Lease another replica holds, and waits the renew deadline', async () => {
    const s = store({ holderIdentity: 'replica-a', leaseDurationSeconds: 15, renewTime: new Date(999_000), leaseTransitions: 2, resourceVersion: '7' });
    const c = clock();
    expect(await takeLease({ store: s, identity: 'cleanup', clock: c, logger: silent, leaseDurationSeconds: 300, renewDeadlineMs: 10_000 })).toBe('replica-a');
    expect(s.record).toMatchObject({ holderIdentity: 'cleanup', leaseDurationSeconds: 300, leaseTransitions: 3 });
    expect(waited(c)).toBe(10_000);
  });

  it('creates a missing Lease without waiting', async () => {
    const s = store();
    const c = clock();
    expect(await takeLease({ store: s, identity: 'cleanup', clock: c, logger: silent, leaseDurationSeconds: 300, renewDeadlineMs: 10_000 })).toBe('');
    expect(s.record).toMatchObject({ holderIdentity: 'cleanup', leaseDurationSeconds: 300 });
    expect(waited(c)).toBe(0);
  });
});
