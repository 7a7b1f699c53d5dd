// The verb a request counts under, as the API server's own metrics name it.
import { describe, expect, it } from '@jest/globals';
import type { V1Node } from '@kubernetes/client-node';
import { verbOf } from '../../../src/kube/client-node/api-clients.js';
import { nodeForCache, nodeStateOf } from '../../../src/controller/cache/cluster-state.js';

const request = (method: string, url: string, headers: Record<string, string> = {}) => ({
  getHttpMethod: () => method as never,
  getUrl: () => `https://127.0.0.1:6443${url}`,
  getHeaders: () => headers,
});

describe('verbOf', () => {
  it.each([
    ['GET', '/api/v1/nodes', 'list'],
    ['GET', '/api/v1/nodes/n1', 'get'],
    ['GET', '/api/v1/pods?fieldSelector=spec.nodeName%3Dn1', 'list'],
    ['GET', '/api/v1/namespaces/ns/pods', 'list'],
    ['GET', '/api/v1/namespaces/ns/pods/p', 'get'],
    ['GET', '/api/v1/namespaces/ns', 'get'],
    ['GET', '/apis/nodemeta.io/v1alpha1/nodemetadatas', 'list'],
    ['GET', '/apis/nodemeta.io/v1alpha1/nodemetadatas/n1', 'get'],
    ['POST', '/api/v1/namespaces/ns/pods/p/eviction', 'create'],
    ['PUT', '/api/v1/nodes/n1', 'update'],
    ['DELETE', '/api/v1/nodes/n1', 'delete'],
  ])('%s %s is %s', (method, url, verb) => {
    expect(verbOf(request(method, url))).toBe(verb);
  });

  it('tells server-side apply from other patches by the content type', () => {
    expect(verbOf(request('PATCH', '/api/v1/nodes/n1', { 'Content-Type': 'application/apply-patch+yaml' }))).toBe('apply');
    expect(verbOf(request('PATCH', '/api/v1/nodes/n1', { 'content-type': 'application/json-patch+json' }))).toBe('patch');
  });
});

describe('nodeForCache', () => {
  const node: V1Node = {
    metadata: {
      name: 'n1',
      uid: 'u1',
      resourceVersion: '7',
      labels: { a: 'b' },
      annotations: { 'node.alpha.kubernetes.io/ttl': '0', 'nodemeta.io/cordoned': 'EV-1', 'weave.works/kured-reboot-in-progress': '2026-11-22T04:00:00Z' },
      managedFields: [
        { manager: 'nodemeta-controller', operation: 'Apply', fieldsV1: { 'f:metadata': { 'f:labels': { 'f:nodemeta.io/zone': {} } } } },
        { manager: 'kubelet', operation: 'Update', fieldsV1: { 'f:status': {} } },
      ],
    },
    spec: { unschedulable: true, providerID: 'azure:///x', taints: [{ key: 'k', effect: 'NoSchedule' }], podCIDR: '10.0.0.0/24' },
    status: { conditions: [{ type: 'MemoryPressure', status: 'False' }, { type: 'Ready', status: 'True' }], images: [{ names: ['big'], sizeBytes: 1 }] },
  };

  it('keeps exactly what the reconciler reads', () => {
    // kured's reboot mark too: it says kured drains the node (decide/other-drainers.ts).
    expect(nodeStateOf(nodeForCache(node))).toEqual(nodeStateOf({ ...node, metadata: { ...node.metadata, annotations: { 'nodemeta.io/cordoned': 'EV-1', 'weave.works/kured-reboot-in-progress': '2026-11-22T04:00:00Z' }, managedFields: [node.metadata!.managedFields![0]!] } }));
    const kept = nodeForCache(node);
    expect(kept.status).toEqual({ conditions: [{ type: 'Ready', status: 'True' }] });
    expect(kept.spec).toEqual({ unschedulable: true, providerID: 'azure:///x', taints: [{ key: 'k', effect: 'NoSchedule' }] });
  });

  it('keeps an empty annotation map for a node with annotations but none of ours (the cordon patch tests for it)', () => {
    expect(nodeForCache({ metadata: { name: 'n2', annotations: { other: 'x' } } }).metadata?.annotations).toEqual({});
    // Every annotation of nodemeta's, so that what it holds on a node (cordon.ts, out-of-service.ts) is seen and given back.
    const held = { 'nodemeta.io/cordoned': 'EV-1', 'nodemeta.io/excluded-from-load-balancers': 'true', 'nodemeta.io/out-of-service': 'EV-2' };
    expect(nodeForCache({ metadata: { name: 'n3', annotations: { ...held, other: 'x' } } }).metadata?.annotations).toEqual(held);
    expect(nodeForCache({ metadata: { name: 'n3' } }).metadata?.annotations).toBeUndefined();
  });
});
