// Which request-limiter priority each write the controller sends gets, through the real chain the
// controller builds (src/controller/controller.ts): a RequestLimiter, makeApiClients over it and
// kubeNodeWriter over those clients, against a local HTTP server. Cordons and taints go first
// (docs/metrics.md, nodemeta_controller_rate_limiter_wait_seconds: urgent = taints and cordons).
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { KubeConfig } from '@kubernetes/client-node';
import { kubeNodeWriter } from '../../../src/controller/write/node-writer.js';
import { makeApiClients } from '../../../src/kube/client-node/api-clients.js';
import { RequestLimiter, type RequestDone, type RequestPriority } from '../../../src/runtime/request-limiter.js';
import { unrefSystemClock } from '../../../src/time/clock.js';

/** The real limiter, recording the priority of each request and the request it let through. */
class RecordingLimiter extends RequestLimiter {
  readonly asked: RequestPriority[] = [];
  override acquire(priority: RequestPriority = 'normal'): Promise<RequestDone> {
    this.asked.push(priority);
    return super.acquire(priority);
  }
}

const nodeJson = { apiVersion: 'v1', kind: 'Node', metadata: { name: 'n1', resourceVersion: '2', annotations: {} }, spec: { unschedulable: true } };

let server: Server;
const seen: string[] = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    seen.push(`${req.method} ${req.url?.split('?')[0]}`);
    req.resume();
    req.on('end', () => {
      res.writeHead(req.url?.includes('/eviction') ? 201 : 200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(req.url?.startsWith('/apis/') ? { apiVersion: 'nodemeta.io/v1alpha1', kind: 'NodeMetadata', metadata: { name: 'n1' } } : req.url?.includes('/eviction') ? { kind: 'Status', status: 'Success' } : nodeJson));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

function writerOverRecordingLimiter() {
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromOptions({
    clusters: [{ name: 'c', server: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, skipTLSVerify: true }],
    users: [{ name: 'u', token: 't' }],
    contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
    currentContext: 'x',
  });
  const limiter = new RecordingLimiter({ qps: 100, burst: 100, clock: unrefSystemClock });
  const writer = kubeNodeWriter({ clients: makeApiClients(kubeConfig, { limiter, userAgent: 'nodemeta-test' }), isLeading: () => true });
  return { writer, limiter };
}

const node = { metadata: { name: 'n1', annotations: {} }, spec: {} };

describe('the request-limiter priority of each controller write', () => {
  it.each<[string, RequestPriority, (w: ReturnType<typeof writerOverRecordingLimiter>['writer']) => Promise<unknown>]>([
    ['the cordon of the maintenance flow', 'urgent', (w) => w.cordon(node, 'ev-1', { excludeFromLoadBalancers: false })],
    ["the fast path's taint and cordon", 'urgent', (w) => w.protect(node, { cordonFor: 'ev-1' })],
    ['the out-of-service taint', 'urgent', (w) => w.setOutOfService(node, 'ev-1')],
    ['an eviction', 'normal', (w) => w.evictPod({ namespace: 'default', name: 'web-1', uid: 'u1', gracePeriodSeconds: 30 })],
    ['the uncordon', 'normal', (w) => w.release({ metadata: { name: 'n1', annotations: { 'nodemeta.io/cordoned': 'ev-1' } }, spec: { unschedulable: true } })],
    ['a status write that only reports', 'low', (w) => w.applyControllerStatus('n1', {}, { report: true })],
  ])('%s goes %s', async (_what, priority, write) => {
    const { writer, limiter } = writerOverRecordingLimiter();
    const before = seen.length;
    await write(writer);
    expect(seen.length).toBe(before + 1); // the request reached the server, through the limiter
    expect(limiter.asked).toEqual([priority]);
  });
});
