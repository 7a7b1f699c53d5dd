// Issue 10, the out-of-service taint (opt-in, `outOfServiceTaint: true`), end to end: an Alibaba spot
// reclaim on a node whose kubelet the test plays (a bare Node: kwok would mark it Ready again at
// once). Once the termination time has passed and the node goes NotReady (its VM gone), the
// controller adds Kubernetes' node.kubernetes.io/out-of-service=nodeshutdown:NoExecute taint with
// its own annotation; when the node is Ready again the taint goes. A taint a person added stays.
import { afterEach, beforeAll, describe, expect, test } from '@jest/globals';
import { installCrd, nodeHeartbeat, readNode } from './controller-harness.js';
import { kubectlOk, waitFor } from './lib/cluster.js';
import { controllerConfig, maintenanceOf, phaseOf, withScenario } from './maintenance-harness.js';

const OUT_OF_SERVICE = 'node.kubernetes.io/out-of-service';

beforeAll(async () => {
  await installCrd();
});

type Node = Awaited<ReturnType<typeof readNode>>;
const ready = (node: Node) => node.status?.conditions?.find((c) => c.type === 'Ready')?.status === 'True';
const outOfService = (node: Node) => (node.spec?.taints ?? []).filter((t) => t.key === OUT_OF_SERVICE);

/** The test's kubelet: a Ready heartbeat every 5 s while the VM "runs". */
let heartbeat: NodeJS.Timeout | undefined;
const startHeartbeat = (node: string) => {
  heartbeat = setInterval(() => void nodeHeartbeat(node, true).catch(() => undefined), 5_000);
};
const stopHeartbeat = () => {
  clearInterval(heartbeat);
  heartbeat = undefined;
};
afterEach(stopHeartbeat);

describe('out-of-service taint', () => {
  test(
    'a reclaimed spot node that goes NotReady is tainted out-of-service, and untainted when it is Ready again',
    () =>
      withScenario('oos', async (s) => {
        const node = `cn-hangzhou.${s.short}.0`;
        const nmd = await s.watchNodeMetadata([node]);
        await s.startEmulator('alibaba', [node]);
        await s.managedNode(node, 'alibaba', [], 'bare');
        startHeartbeat(node);
        await s.startController(controllerConfig({ outOfServiceTaint: true }));
        await s.ready(nmd, [node]);

        await s.control('PATCH', `/vms/${node}`, { spot: { terminationTime: '+10s' } });
        // No pods on it (no kubelet runs them): drained at once.
        const drained = await nmd.until('phase Drained', (state) => (phaseOf(state.get(node)) === 'Drained' ? maintenanceOf(state.get(node)) : undefined));
        const terminationTime = Date.parse(drained.notBefore ?? '');
        expect(terminationTime).toBeGreaterThan(0);
        // Past the termination time, but the node is still Ready: no taint.
        await waitFor('the termination time passed', async () => Date.now() > terminationTime + 3_000 || undefined, { timeoutMs: 60_000 });
        expect(outOfService(await readNode(node))).toEqual([]);

        // The VM is gone: the kubelet's last word is NotReady, then silence.
        stopHeartbeat();
        await nodeHeartbeat(node, false);
        const tainted = await waitFor('the node tainted out-of-service', async () => {
          const n = await readNode(node);
          return outOfService(n).length > 0 ? n : undefined;
        });
        expect(ready(tainted)).toBe(false);
        expect(outOfService(tainted)).toEqual([expect.objectContaining({ key: OUT_OF_SERVICE, value: 'nodeshutdown', effect: 'NoExecute' })]);
        expect(tainted.metadata?.annotations?.['nodemeta.io/out-of-service']).toBe('spot-termination');
        await s.expectEvents(node, ['OutOfService']);

        // It comes back after all: Ready again, the taint goes.
        await nodeHeartbeat(node, true);
        startHeartbeat(node);
        const back = await waitFor('the node untainted', async () => {
          const n = await readNode(node);
          return outOfService(n).length === 0 ? n : undefined;
        });
        expect(back.metadata?.annotations?.['nodemeta.io/out-of-service']).toBeUndefined();
        await s.expectEvents(node, ['OutOfService', 'BackInService']);

        // A taint a person adds is theirs: nodemeta leaves it on a Ready node, and after the event.
        await kubectlOk(['taint', 'node', node, `${OUT_OF_SERVICE}=nodeshutdown:NoExecute`]);
        await s.control('PATCH', `/vms/${node}`, { spot: { terminationTime: null } });
        await nmd.until('phase Completed', (state) => phaseOf(state.get(node)) === 'Completed');
        expect(outOfService(await readNode(node))).toHaveLength(1);
        await kubectlOk(['taint', 'node', node, `${OUT_OF_SERVICE}-`]);
      }),
    240_000,
  );
});
