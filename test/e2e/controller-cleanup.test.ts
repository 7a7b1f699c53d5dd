// `nodemeta controller --cleanup` (the chart's pre-delete hook) against the real API server: it
// takes the Lease from a running controller, which then stops writing, and removes exactly what
// nodemeta wrote: labels owned by field manager nodemeta-controller, nodemeta.io/ taints, and the
// cordon of a node nodemeta cordoned. A foreign label and taint and an admin's cordon stay.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { CoreV1Api, CoordinationV1Api, PatchStrategy, setHeaderOptions, type V1Node } from '@kubernetes/client-node';
import type { NodeMetadataStatus } from '../../src/api/nodemetadata.js';
import { REPO_ROOT, createTestNamespace, deleteTestNamespace, kubeConfig, kubeconfigPath, waitFor } from './lib/cluster.js';
import { applyAgentStatus, controllerArgs, createNode, createNodeMetadata, deleteNode, installCrd, readNode, runId, startController, type ControllerProcess } from './controller-harness.js';

const id = runId();
const SELECTOR = { 'nodemeta-e2e-cleanup': id };
const LABELED = `nmctl-cl-${id}-0`; // labelled by the running controller
const OURS = `nmctl-cl-${id}-1`; // nodemeta labels (SSA), taint and cordon written as nodemeta writes them
const ADMIN = `nmctl-cl-${id}-2`; // cordoned and tainted by an admin, plus one nodemeta taint
const LEASE = `nodemeta-controller-${id}`;
const NODEMETA = path.join(REPO_ROOT, 'dist/cmd/nodemeta.js');
let namespace: string;
let controller: ControllerProcess | undefined;

function status(zone: string): NodeMetadataStatus {
  return {
    provider: 'alibaba',
    observedTime: new Date().toISOString(),
    instance: { region: 'cn-hangzhou', zone, instanceType: 'ecs.g7.large', priority: 'regular' },
    tags: [],
    events: [],
  };
}

const core = () => kubeConfig().makeApiClient(CoreV1Api);

async function jsonPatch(name: string, body: unknown[], fieldManager: string): Promise<void> {
  await core().patchNode({ name, body, fieldManager }, setHeaderOptions('Content-Type', PatchStrategy.JsonPatch));
}

async function runCleanup(): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const args = [NODEMETA, 'controller', '--cleanup', '--kubeconfig', kubeconfigPath(), '--identity', `cleanup-${id}`];
    const flags = controllerArgs({ lease: { namespace, name: LEASE }, nodeSelector: `nodemeta-e2e-cleanup=${id}` });
    const child = spawn(process.execPath, [...args, ...flags, '--renew-deadline', '4s'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

const ownTaintKeys = (node: V1Node) => (node.spec?.taints ?? []).map((taint) => taint.key).filter((key) => !key.startsWith('node.kubernetes.io/'));
const nodemetaLabels = (labels: Record<string, string> | undefined) => Object.keys(labels ?? {}).filter((key) => key.startsWith('nodemeta.io/') || key.startsWith('tag.nodemeta.io/'));

beforeAll(async () => {
  await installCrd();
  namespace = await createTestNamespace('nodemeta-cl');
  const labeled = await createNode(LABELED, SELECTOR);
  await createNode(OURS, SELECTOR);
  await createNode(ADMIN, SELECTOR);
  await createNodeMetadata(labeled);
  await applyAgentStatus(LABELED, status('cn-hangzhou-h'));
  controller = await startController(
    `replica-${id}`,
    controllerArgs({ defaultConfig: true, leaderElect: true, lease: { namespace, name: LEASE, fast: true }, nodeSelector: `nodemeta-e2e-cleanup=${id}` }),
  );
  await waitFor('the controller to label its node', async () => (await readNode(LABELED)).metadata?.labels?.['nodemeta.io/zone'] === 'cn-hangzhou-h', { timeoutMs: 60_000 });

  // What nodemeta writes, written the way it writes it: labels by SSA as nodemeta-controller,
  // taint and cordon by JSON patch with the nodemeta.io/cordoned annotation.
  await core().patchNode(
    { name: OURS, body: { apiVersion: 'v1', kind: 'Node', metadata: { name: OURS, labels: { 'nodemeta.io/provider': 'azure', 'tag.nodemeta.io/team': 'a' } } }, fieldManager: 'nodemeta-controller', force: false },
    setHeaderOptions('Content-Type', PatchStrategy.ServerSideApply),
  );
  await jsonPatch(
    OURS,
    [
      { op: 'add', path: '/metadata/labels/team', value: 'payments' },
      { op: 'add', path: '/spec/taints', value: [{ key: 'nodemeta.io/scheduled-event', value: 'Reboot', effect: 'NoSchedule' }, { key: 'dedicated', value: 'gpu', effect: 'NoSchedule' }] },
      { op: 'add', path: '/spec/unschedulable', value: true },
      { op: 'add', path: '/metadata/annotations/nodemeta.io~1cordoned', value: 'ev-1' },
    ],
    'nodemeta-e2e-admin',
  );
  // An admin cordon (no annotation) and a nodemeta.io/ label an admin set by hand: both stay.
  await jsonPatch(
    ADMIN,
    [
      { op: 'add', path: '/metadata/labels/nodemeta.io~1hand-set', value: 'yes' },
      { op: 'add', path: '/spec/taints', value: [{ key: 'nodemeta.io/spot-termination', effect: 'NoSchedule' }] },
      { op: 'add', path: '/spec/unschedulable', value: true },
    ],
    'nodemeta-e2e-admin',
  );
}, 120_000);

afterAll(async () => {
  await controller?.stop();
  for (const name of [LABELED, OURS, ADMIN]) await deleteNode(name);
  if (namespace) await deleteTestNamespace(namespace);
});

describe('nodemeta controller --cleanup', () => {
  it('takes the Lease, removes what nodemeta wrote and only that, and exits 0', async () => {
    const result = await runCleanup();
    expect({ code: result.code, stdout: result.stdout, stderr: result.code === 0 ? '' : result.stderr }).toEqual({ code: 0, stderr: '', stdout: expect.stringMatching(/3 node\(s\), [1-3] changed .*every node clean/) });
    const lease = await kubeConfig().makeApiClient(CoordinationV1Api).readNamespacedLease({ name: LEASE, namespace });
    expect(lease.spec?.holderIdentity).toBe(`cleanup-${id}`);

    const labeled = await readNode(LABELED);
    expect(nodemetaLabels(labeled.metadata?.labels)).toEqual([]);

    const ours = await readNode(OURS);
    expect(nodemetaLabels(ours.metadata?.labels)).toEqual([]);
    expect(ours.metadata?.labels?.team).toBe('payments');
    // node.kubernetes.io/* taints are kube-controller-manager's (it taints cordoned nodes).
    expect(ownTaintKeys(ours)).toEqual(['dedicated']);
    expect(ours.spec?.unschedulable).toBeFalsy();
    expect(ours.metadata?.annotations?.['nodemeta.io/cordoned']).toBeUndefined();

    const admin = await readNode(ADMIN);
    expect(admin.metadata?.labels?.['nodemeta.io/hand-set']).toBe('yes');
    expect(ownTaintKeys(admin)).toEqual([]);
    expect(admin.spec?.unschedulable).toBe(true);
  }, 90_000);

  it('leaves the running replica unable to write: it loses the Lease and re-adds nothing', async () => {
    await waitFor('the replica to stop leading', async () => controller!.child.exitCode !== null || !(await controller!.isLeader()), { timeoutMs: 30_000 });
    // New metadata for its node: a leader would label it within a second or two.
    await applyAgentStatus(LABELED, status('cn-hangzhou-i'));
    await new Promise((resolve) => setTimeout(resolve, 5_000));
    expect(nodemetaLabels((await readNode(LABELED)).metadata?.labels)).toEqual([]);
  }, 60_000);

  it('is idempotent: a second run changes nothing and exits 0', async () => {
    const result = await runCleanup();
    expect({ code: result.code, stdout: result.stdout }).toEqual({ code: 0, stdout: expect.stringMatching(/3 node\(s\), 0 changed .*every node clean/) });
    expect((await readNode(ADMIN)).spec?.unschedulable).toBe(true);
  }, 60_000);
});
