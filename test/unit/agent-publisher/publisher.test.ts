import { describe, expect, it } from '@jest/globals';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { agentPartOf, agentStatusFor, NodeMetadataPublisher, sameAgentStatus, type Availability } from '../../../src/agent/publisher.js';
import { KubeRestClient } from '../../../src/kube/rest-client.js';
import type { Observation } from '../../../src/api/observation.js';

const ok: Availability = { available: true, reason: 'Observed', message: 'metadata service answered' };
const down: Availability = { available: false, reason: 'MetadataServiceUnavailable', message: 'GET /metadata/instance: 500 after 5 attempts' };

const observation = (zone = 'westeurope-1'): Observation => ({
  provider: 'azure',
  observedTime: '2026-11-22T04:00:00.000Z',
  instance: { name: 'vm0', zone, faultDomain: '0' },
  tags: [{ name: 'team', value: 'payments' }],
  events: [],
  spot: undefined,
  incarnation: 1,
});

const t0 = new Date('2026-11-22T04:00:00.000Z');
const t1 = new Date('2026-11-22T04:00:05.000Z');

describe('agent status', () => {
  it('is identical (same observedTime) when nothing observed changed, so no write is needed', () => {
    const first = agentStatusFor(observation(), ok, [], undefined, t0);
    const second = agentStatusFor(observation(), ok, [], first, t1);
    expect(sameAgentStatus(first, second)).toBe(true);
    expect(second.observedTime).toBe(t0.toISOString());
  });

  it('moves observedTime when the observation changes', () => {
    const first = agentStatusFor(observation(), ok, [], undefined, t0);
    const second = agentStatusFor(observation('westeurope-2'), ok, [], first, t1);
    expect(sameAgentStatus(first, second)).toBe(false);
    expect(second.observedTime).toBe(t1.toISOString());
    expect(second.instance?.zone).toBe('westeurope-2');
  });

  it('keeps the last good observation and flips MetadataAvailable when the service fails', () => {
    const good = agentStatusFor(observation(), ok, [], undefined, t0);
    const failed = agentStatusFor(observation(), down, [], good, t1);
    expect(failed.instance).toEqual(good.instance);
    expect(failed.tags).toEqual(good.tags);
    const condition = failed.conditions?.[0];
    expect(condition).toMatchObject({ type: 'MetadataAvailable', status: 'False', reason: 'MetadataServiceUnavailable' });
    expect(condition?.lastTransitionTime).toBe(t1.toISOString());
    // Data unchanged: observedTime stays the time of the last real change.
    expect(failed.observedTime).toBe(t0.toISOString());
  });

  it('keeps the condition transition time while the status stays the same', () => {
    const a = agentStatusFor(undefined, down, [], undefined, t0);
    const b = agentStatusFor(undefined, { ...down, message: 'still failing' }, [], a, t1);
    expect(b.conditions?.[0]?.lastTransitionTime).toBe(t0.toISOString());
    expect(b.conditions?.[0]?.message).toBe('still failing');
    expect(b.observedTime).toBeUndefined();
  });

  it('leaves out fields the service no longer reports, so that apply removes them', () => {
    const withSpot = agentStatusFor({ ...observation(), spot: { terminationTime: '2026-11-22T04:05:00Z' } }, ok, [], undefined, t0);
    expect(withSpot.spot).toBeDefined();
    const without = agentStatusFor(observation(), ok, [], withSpot, t1);
    expect('spot' in without).toBe(false);
  });

  it('reads back only its own part of a status that the controller also writes', () => {
    const mine = agentStatusFor(observation(), ok, [{ eventId: 'e1', time: t0.toISOString() }], undefined, t0);
    const onServer = {
      ...mine,
      maintenance: { phase: 'Drained' as const, approve: 'e1' },
      conditions: [...(mine.conditions ?? []), { type: 'Labeled', status: 'True' as const, reason: 'Applied', message: '', lastTransitionTime: t0.toISOString() }],
    };
    const part = agentPartOf(onServer);
    expect(sameAgentStatus(part, mine)).toBe(true);
    expect(agentStatusFor(observation(), ok, [{ eventId: 'e1', time: t0.toISOString() }], part, t1)).toEqual(mine);
  });
});

describe('NodeMetadataPublisher requests', () => {
  type Answer = { status: number; body: unknown };
  const nodeMetadata = { apiVersion: 'nodemeta.io/v1alpha1', kind: 'NodeMetadata', metadata: { name: 'vm0' } };

  /**
   * A plain-HTTP stand-in for the API server that records the requests; `answer` decides each answer
   * from the request line and its body (by default every request gets the NodeMetadata).
   */
  async function withServer(run: (publisher: NodeMetadataPublisher, urls: string[]) => Promise<void>, answer: (request: string, body: string) => Answer = () => ({ status: 200, body: nodeMetadata })) {
    const urls: string[] = [];
    const server = http.createServer((req, res) => {
      const request = `${req.method} ${req.url}`;
      urls.push(request);
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        const { status, body } = answer(request, Buffer.concat(chunks).toString());
        res.statusCode = status;
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify(body));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const client = new KubeRestClient({ server: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, source: 'test' });
    try {
      await run(new NodeMetadataPublisher(client, 'vm0'), urls);
    } finally {
      await client.close();
      await new Promise((resolve) => server.close(resolve));
    }
  }

  it('reads from the watch cache (resourceVersion=0) only when asked to', async () => {
    await withServer(async (publisher, urls) => {
      await publisher.read();
      await publisher.read({ fromCache: true });
      expect(urls).toEqual(['GET /apis/nodemeta.io/v1alpha1/nodemetadatas/vm0', 'GET /apis/nodemeta.io/v1alpha1/nodemetadatas/vm0?resourceVersion=0']);
    });
  });

  it('reads the Node once: a create retried after a 429 does not read it again', async () => {
    let creates = 0;
    const tooMany = { kind: 'Status', status: 'Failure', reason: 'TooManyRequests', code: 429, message: 'too many requests' };
    const notFound = { kind: 'Status', status: 'Failure', reason: 'NotFound', code: 404, message: 'not found' };
    await withServer(
      async (publisher, urls) => {
        await expect(publisher.ensure()).rejects.toThrow(/429/);
        await expect(publisher.ensure()).resolves.toMatchObject({ metadata: { name: 'vm0' } });
        expect(urls.filter((u) => u.startsWith('GET /api/v1/nodes/'))).toHaveLength(1);
        expect(urls.filter((u) => u.startsWith('POST '))).toHaveLength(2);
      },
      (request) => {
        if (request.startsWith('GET /api/v1/nodes/')) return { status: 200, body: { metadata: { name: 'vm0', uid: 'u-1' } } };
        if (request.startsWith('GET ')) return { status: 404, body: notFound };
        return ++creates === 1 ? { status: 429, body: tooMany } : { status: 201, body: nodeMetadata };
      },
    );
  });

  it('reads the Node again for a later create: the Node may have been deleted and created again, with a new uid', async () => {
    let nodeUid = 'u-1';
    const owners: unknown[] = [];
    const notFound = { kind: 'Status', status: 'Failure', reason: 'NotFound', code: 404, message: 'not found' };
    await withServer(
      async (publisher) => {
        await publisher.ensure();
        // The NodeMetadata deleted with its Node; the Node created again.
        nodeUid = 'u-2';
        await publisher.ensure();
        expect(owners).toEqual([[expect.objectContaining({ kind: 'Node', uid: 'u-1' })], [expect.objectContaining({ kind: 'Node', uid: 'u-2' })]]);
      },
      (request, body) => {
        if (request.startsWith('GET /api/v1/nodes/')) return { status: 200, body: { metadata: { name: 'vm0', uid: nodeUid } } };
        if (request.startsWith('GET ')) return { status: 404, body: notFound };
        owners.push((JSON.parse(body) as { metadata: { ownerReferences?: unknown[] } }).metadata.ownerReferences);
        return { status: 201, body: nodeMetadata };
      },
    );
  });
});
