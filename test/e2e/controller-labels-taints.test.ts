// The controller against the real API server: labels owned exactly (server-side apply under
// nodemeta-controller), foreign labels untouched, tag removal, the scheduled-event taint coming and
// going with the event, the Scheduled phase, Events, and no API writes once nothing changes.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { writeFileSync } from 'node:fs';
import type { NodeMetadataStatus } from '../../src/api/nodemetadata.js';
import { NotLeaderError, WriteConflictError } from '../../src/controller/cache/cluster-state.js';
import { ownedLabelKeys } from '../../src/controller/decide/labels.js';
import { kubeNodeWriter } from '../../src/controller/write/node-writer.js';
import { DEFAULT_RATE_LIMIT, makeApiClients } from '../../src/kube/client-node/api-clients.js';
import { unrefSystemClock } from '../../src/time/clock.js';
import { RequestLimiter } from '../../src/runtime/request-limiter.js';
import { kubeConfig, kubectlOk, waitFor } from './lib/cluster.js';
import {
  applyAgentStatus,
  controllerArgs,
  createNode,
  createNodeMetadata,
  deleteNode,
  installCrd,
  nodemetaTaints,
  readNode,
  readNodeMetadataStatus,
  runId,
  startController,
  writeConfig,
  type ControllerProcess,
} from './controller-harness.js';

const id = runId();
const selector = { 'nodemeta-e2e-controller': id };
const NODE = `nmctl-${id}-0`;
let controller: ControllerProcess | undefined;
let configFile: string;

/** The controller's rate-limited clients, as the controller builds them, over the admin kubeconfig. */
function writerClients() {
  return makeApiClients(kubeConfig(), { limiter: new RequestLimiter({ ...DEFAULT_RATE_LIMIT, clock: unrefSystemClock }), userAgent: 'nodemeta-e2e' });
}

function status(overrides: Partial<NodeMetadataStatus> = {}): NodeMetadataStatus {
  return {
    provider: 'azure',
    observedTime: new Date().toISOString(),
    instance: { region: 'westeurope', zone: 'westeurope-2', faultDomain: '1', updateDomain: '4', instanceType: 'Standard_D4s_v5', priority: 'regular' },
    tags: [
      { name: 'team', value: 'payments' },
      { name: 'env', value: 'prod' },
      { name: 'secret-ish', value: 'not allow-listed' },
    ],
    events: [],
    ...overrides,
  };
}

async function labels(): Promise<Record<string, string>> {
  return (await readNode(NODE)).metadata?.labels ?? {};
}

async function nodeEvents(): Promise<{ reason: string; message: string; count: number; source: string }[]> {
  const out = await kubectlOk(['get', 'events', '-n', 'default', '--field-selector', `involvedObject.name=${NODE},involvedObject.kind=Node`, '-o', 'json']);
  const list = JSON.parse(out) as { items: { reason: string; message: string; count?: number; source?: { component?: string } }[] };
  return list.items.map((event) => ({ reason: event.reason, message: event.message, count: event.count ?? 1, source: event.source?.component ?? '' }));
}

beforeAll(async () => {
  await installCrd();
  const node = await createNode(NODE, selector);
  // A person's label under nodemeta.io/ and one that collides with a label the controller derives.
  await kubectlOk(['label', 'node', NODE, 'nodemeta.io/owner-note=ops', 'nodemeta.io/priority=manual']);
  await createNodeMetadata(node);
  await applyAgentStatus(NODE, status());
  // No load balancer here: the wait before the drain (60 s by default) is load-balancer-drain.test.ts's subject.
  configFile = writeConfig('labels:\n  allowedTags: [team, env]\ndrain:\n  loadBalancerDrainDelay: 0s\n');
  controller = await startController(`e2e-${id}`, controllerArgs({ config: configFile, leaderElect: false, nodeSelector: `nodemeta-e2e-controller=${id}` }));
});

afterAll(async () => {
  await controller?.stop();
  await deleteNode(NODE);
});

describe('nodemeta controller (one replica)', () => {
  it('applies the metadata labels and allow-listed tags, leaving other writers\' labels alone', async () => {
    const applied = await waitFor('nodemeta labels on the node', async () => {
      const current = await labels();
      return current['tag.nodemeta.io/env'] === 'prod' ? current : undefined;
    });
    expect(applied).toMatchObject({
      'nodemeta.io/provider': 'azure',
      'nodemeta.io/region': 'westeurope',
      'nodemeta.io/zone': 'westeurope-2',
      'nodemeta.io/fault-domain': '1',
      'nodemeta.io/update-domain': '4',
      'nodemeta.io/instance-type': 'Standard_D4s_v5',
      'tag.nodemeta.io/team': 'payments',
      'nodemeta.io/owner-note': 'ops',
      'nodemeta.io/priority': 'manual',
    });
    expect(applied).not.toHaveProperty(['tag.nodemeta.io/secret-ish']);

    const node = await readNode(NODE);
    const apply = node.metadata?.managedFields?.find((entry) => entry.manager === 'nodemeta-controller' && entry.operation === 'Apply');
    const owned = Object.keys(((apply?.fieldsV1 as Record<string, Record<string, Record<string, unknown>>>)['f:metadata']?.['f:labels']) ?? {});
    expect(owned).not.toContain('f:nodemeta.io/owner-note');
    expect(owned).not.toContain('f:nodemeta.io/priority');

    const labeled = await waitFor('Labeled condition', async () => (await readNodeMetadataStatus(NODE))?.conditions?.find((c) => c.type === 'Labeled'));
    expect(labeled).toMatchObject({ status: 'False', reason: 'LabelsOwnedElsewhere' });
    expect(labeled.message).toContain('nodemeta.io/priority');
    const events = await waitFor('LabelsApplied Event', async () => (await nodeEvents()).find((e) => e.reason === 'LabelsApplied'));
    expect(events.source).toBe('nodemeta-controller');
  });

  it('sends no write to the API server while nothing changes', async () => {
    // Let the first reconciles settle, then watch the write counter while the node keeps being
    // updated by others (kwok's heartbeats, the node lifecycle controller).
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    const before = await controller!.apiWrites(['nodes', 'nodemetadatas']);
    await kubectlOk(['annotate', 'node', NODE, `e2e-touch=${Date.now()}`, '--overwrite']);
    await applyAgentStatus(NODE, status({ observedTime: new Date().toISOString() }));
    await new Promise((resolve) => setTimeout(resolve, 5_000));
    expect(await controller!.apiWrites(['nodes', 'nodemetadatas'])).toBe(before);
    const reconciles = /^nodemeta_controller_reconcile_duration_seconds_count\{result="success"\} (\d+)/m.exec(await controller!.metrics());
    expect(Number(reconciles?.[1])).toBeGreaterThan(1);
  });

  it('removes the label of a tag that goes away, and only that one', async () => {
    await applyAgentStatus(NODE, status({ tags: [{ name: 'env', value: 'prod' }] }));
    const after = await waitFor('tag.nodemeta.io/team to go', async () => {
      const current = await labels();
      return current['tag.nodemeta.io/team'] === undefined ? current : undefined;
    });
    expect(after).toMatchObject({ 'tag.nodemeta.io/env': 'prod', 'nodemeta.io/owner-note': 'ops', 'nodemeta.io/priority': 'manual', 'nodemeta.io/zone': 'westeurope-2' });
  });

  it('skips an invalid tag value and reports it, applying the rest', async () => {
    await applyAgentStatus(NODE, status({ tags: [{ name: 'env', value: 'prod' }, { name: 'team', value: 'has spaces!' }] }));
    const labeled = await waitFor('Labeled condition naming the invalid tag', async () => {
      const condition = (await readNodeMetadataStatus(NODE))?.conditions?.find((c) => c.type === 'Labeled');
      return condition?.message.includes('tag.nodemeta.io/team') ? condition : undefined;
    });
    expect(labeled).toMatchObject({ status: 'False', reason: 'InvalidLabels' });
    expect((await labels())['tag.nodemeta.io/env']).toBe('prod');
    expect(await labels()).not.toHaveProperty(['tag.nodemeta.io/team']);
    await waitFor('InvalidLabelSkipped Event', async () => (await nodeEvents()).find((e) => e.reason === 'InvalidLabelSkipped'));
  });

  it('taints and cordons the node for a scheduled event, drains it (no pods), and undoes both when the event goes', async () => {
    const notBefore = new Date(Date.now() + 10 * 60_000).toISOString();
    const event = { id: `EV-${id}`, type: 'Reboot' as const, rawType: 'Reboot', status: 'Scheduled' as const, notBefore, source: 'Platform' as const, resources: [NODE], durationSeconds: -1 };
    await applyAgentStatus(NODE, status({ events: [event] }));
    // Reboot → Drain with a 1 h lead time: with 10 min notice the action is due at once.
    const taints = await waitFor('scheduled-event taint', async () => {
      const ours = nodemetaTaints(await readNode(NODE));
      return ours.length > 0 ? ours : undefined;
    });
    expect(taints).toEqual([{ key: 'nodemeta.io/scheduled-event', value: 'Reboot', effect: 'NoSchedule' }]);
    // The node runs no pods: the drain ends at once.
    const maintenance = await waitFor('phase Drained', async () => {
      const m = (await readNodeMetadataStatus(NODE))?.maintenance;
      return m?.phase === 'Drained' ? m : undefined;
    });
    expect(maintenance).toMatchObject({ eventId: `EV-${id}`, eventType: 'Reboot', totalPods: 0, pendingPods: 0 });
    const cordoned = await readNode(NODE);
    expect(cordoned.spec?.unschedulable).toBe(true);
    expect(cordoned.metadata?.annotations?.['nodemeta.io/cordoned']).toBe(`EV-${id}`);
    for (const reason of ['MaintenanceScheduled', 'DrainStarted', 'Drained']) {
      await waitFor(`${reason} Event`, async () => (await nodeEvents()).find((e) => e.reason === reason));
    }

    // Someone else's taint arrives meanwhile: it must survive our changes.
    await kubectlOk(['taint', 'node', NODE, 'example.com/dedicated=e2e:NoSchedule']);
    await applyAgentStatus(NODE, status({ events: [] }));
    await waitFor('scheduled-event taint to go', async () => nodemetaTaints(await readNode(NODE)).length === 0);
    const remaining = (await readNode(NODE)).spec?.taints ?? [];
    expect(remaining.map((t) => t.key)).toContain('example.com/dedicated');
    await waitFor('phase Completed', async () => (await readNodeMetadataStatus(NODE))?.maintenance?.phase === 'Completed');
    const uncordoned = await readNode(NODE);
    expect(uncordoned.spec?.unschedulable ?? false).toBe(false);
    expect(uncordoned.metadata?.annotations ?? {}).not.toHaveProperty(['nodemeta.io/cordoned']);
    // Gone before NotBefore and never approved: cancelled.
    await waitFor('MaintenanceCancelled Event', async () => (await nodeEvents()).find((e) => e.reason === 'MaintenanceCancelled'));
  });

  it('reloads a changed configuration and keeps the last good one when the new one is invalid', async () => {
    writeFileSync(configFile, 'labels:\n  allowedTags: [env]\npolicy:\n  Reboot:\n    action: Explode\n');
    await waitFor('config rejection counted', async () => /config_reloads_total\{result="failure"\} 1/.test(await controller!.metrics()), { timeoutMs: 45_000 });
    expect((await labels())['tag.nodemeta.io/env']).toBe('prod');

    writeFileSync(configFile, 'labels:\n  allowedTags: []\n');
    await waitFor('tag labels gone after the reload', async () => (await labels())['tag.nodemeta.io/env'] === undefined, { timeoutMs: 45_000 });
    expect(await labels()).toMatchObject({ 'nodemeta.io/zone': 'westeurope-2', 'nodemeta.io/owner-note': 'ops' });
  });
});

describe('node writer against the real API server', () => {
  const WRITER_NODE = `nmctl-${id}-writer`;
  beforeAll(async () => {
    // Not selected by the running controller: this node is the writer's alone.
    await createNode(WRITER_NODE, { 'nodemeta-e2e-writer': id });
  });
  afterAll(async () => {
    await deleteNode(WRITER_NODE);
  });

  it('classifies a failed taint `test` and a label owned by another manager as conflicts, and applies from a fresh read', async () => {
    const writer = kubeNodeWriter({ clients: writerClients(), isLeading: () => true });
    const fresh = (await writer.readNode(WRITER_NODE))!;
    // A node without taints: the `test` for null on the missing path holds.
    const tainted = await writer.patchTaints(WRITER_NODE, fresh.spec?.taints, [{ key: 'nodemeta.io/scheduled-event', value: 'Reboot', effect: 'NoSchedule' }]);
    expect(tainted.spec?.taints).toEqual([{ key: 'nodemeta.io/scheduled-event', value: 'Reboot', effect: 'NoSchedule' }]);
    // Based on a stale list (none, from before): the API server refuses instead of dropping the taint.
    await expect(writer.patchTaints(WRITER_NODE, fresh.spec?.taints, [{ key: 'nodemeta.io/spot-termination', effect: 'NoSchedule' }])).rejects.toBeInstanceOf(
      WriteConflictError,
    );
    await expect(writer.patchTaints(WRITER_NODE, [{ key: 'nodemeta.io/scheduled-event', value: 'Freeze', effect: 'NoSchedule' }], [])).rejects.toBeInstanceOf(
      WriteConflictError,
    );
    const removed = await writer.patchTaints(WRITER_NODE, tainted.spec?.taints, []);
    expect(removed.spec?.taints ?? []).toEqual([]);

    await kubectlOk(['label', 'node', WRITER_NODE, 'nodemeta.io/zone=by-hand']);
    await expect(writer.applyLabels(WRITER_NODE, { 'nodemeta.io/zone': 'westeurope-1' })).rejects.toBeInstanceOf(WriteConflictError);
    const labelled = await writer.applyLabels(WRITER_NODE, { 'nodemeta.io/region': 'westeurope' });
    expect(labelled.metadata.labels).toMatchObject({ 'nodemeta.io/zone': 'by-hand', 'nodemeta.io/region': 'westeurope' });
    expect(ownedLabelKeys(labelled.metadata.managedFields)).toEqual(new Set(['nodemeta.io/region']));
    // Applying the empty set removes what we owned, and only that.
    const cleared = await writer.applyLabels(WRITER_NODE, {});
    expect(cleared.metadata.labels).toHaveProperty(['nodemeta.io/zone'], 'by-hand');
    expect(cleared.metadata.labels).not.toHaveProperty(['nodemeta.io/region']);

    // The fast path's one write: taint and cordon together, guarded like each of them alone.
    const before = (await writer.readNode(WRITER_NODE))!;
    const protection = { taints: [{ key: 'nodemeta.io/scheduled-event', value: 'Preempt', effect: 'NoSchedule' as const }], cordonFor: 'ev-wave', excludeFromLoadBalancers: true };
    const protectedNode = await writer.protect(before, protection);
    expect(protectedNode.spec?.unschedulable).toBe(true);
    expect(protectedNode.metadata.annotations?.['nodemeta.io/cordoned']).toBe('ev-wave');
    expect(protectedNode.metadata.labels?.['node.kubernetes.io/exclude-from-external-load-balancers']).toBe('true');
    expect(protectedNode.metadata.annotations?.['nodemeta.io/excluded-from-load-balancers']).toBe('true');
    expect(protectedNode.spec?.taints).toEqual([expect.objectContaining({ key: 'nodemeta.io/scheduled-event', value: 'Preempt', effect: 'NoSchedule' })]);
    // Planned from the node as it was before: both the taint and the cordon `test`s now fail, and nothing is written.
    await expect(writer.protect(before, { cordonFor: 'ev-other' })).rejects.toBeInstanceOf(WriteConflictError);
    await expect(writer.protect(before, { taints: [{ key: 'nodemeta.io/spot-termination', effect: 'NoSchedule' }] })).rejects.toBeInstanceOf(WriteConflictError);
    const after = (await writer.readNode(WRITER_NODE))!;
    expect(after.metadata.annotations?.['nodemeta.io/cordoned']).toBe('ev-wave');
    // (The node lifecycle controller adds node.kubernetes.io/unschedulable to a cordoned node: not ours.)
    expect(after.spec?.taints?.map((taint) => taint.key).filter((key) => key.startsWith('nodemeta.io/'))).toEqual(['nodemeta.io/scheduled-event']);
    // The exclusion label came with a JSON patch (an Update): the labels' apply does not drop it.
    const relabelled = await writer.applyLabels(WRITER_NODE, { 'nodemeta.io/region': 'westeurope' });
    expect(relabelled.metadata.labels?.['node.kubernetes.io/exclude-from-external-load-balancers']).toBe('true');
    // The release: the cordon and the exclusion nodemeta added go in one write, and only those.
    const released = await writer.release(relabelled);
    expect(released.spec?.unschedulable ?? false).toBe(false);
    expect(released.metadata.labels).not.toHaveProperty(['node.kubernetes.io/exclude-from-external-load-balancers']);
    expect(released.metadata.annotations ?? {}).not.toHaveProperty(['nodemeta.io/cordoned']);
    expect(released.metadata.annotations ?? {}).not.toHaveProperty(['nodemeta.io/excluded-from-load-balancers']);
    expect(released.metadata.labels).toHaveProperty(['nodemeta.io/region'], 'westeurope');
    await writer.applyLabels(WRITER_NODE, {});

    const refused = kubeNodeWriter({ clients: writerClients(), isLeading: () => false });
    await expect(refused.applyLabels(WRITER_NODE, {})).rejects.toBeInstanceOf(NotLeaderError);
  });
});
