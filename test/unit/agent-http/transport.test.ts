// MetadataTransport over node:http against raw local servers that answer byte by byte: cut-off
// answers, oversized ones, stalls, resets, keep-alive reuse, and close().
import { afterEach, describe, expect, it } from '@jest/globals';
import net from 'node:net';
import { systemClock } from '../../../src/time/clock.js';
import { FakeClock } from '../runtime/fake-clock.js';
import { MetadataError } from '../../../src/agent/http/errors.js';
import { TokenBucket } from '../../../src/agent/http/token-bucket.js';
import { MetadataTransport, type TransportOptions } from '../../../src/agent/http/transport.js';

type Handler = (socket: net.Socket, request: string) => void;

interface RawServer {
  url: string;
  /** Connections accepted so far. */
  connections: () => number;
  /** Connections still open. */
  open: () => number;
  close: () => Promise<void>;
}

const servers: RawServer[] = [];
const transports: MetadataTransport[] = [];

afterEach(async () => {
  await Promise.all(transports.splice(0).map((t) => t.close()));
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

/** A TCP server that calls `handle` once per request head it reads. */
async function rawServer(handle: Handler): Promise<RawServer> {
  const sockets = new Set<net.Socket>();
  let accepted = 0;
  const server = net.createServer((socket) => {
    accepted++;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    let buffered = '';
    socket.on('data', (chunk: Buffer) => {
      buffered += chunk.toString('latin1');
      let end: number;
      while ((end = buffered.indexOf('\r\n\r\n')) >= 0) {
        const head = buffered.slice(0, end);
        const length = Number(/\r\ncontent-length: *(\d+)/i.exec(head)?.[1] ?? 0);
        if (buffered.length < end + 4 + length) return;
        buffered = buffered.slice(end + 4 + length);
        handle(socket, head);
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  const raw: RawServer = {
    url: `http://127.0.0.1:${port}`,
    connections: () => accepted,
    open: () => sockets.size,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
  servers.push(raw);
  return raw;
}

function answer(body: string, extraHeaders = ''): string {
  return `HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nkeep-alive: timeout=5\r\n${extraHeaders}\r\n${body}`;
}

function transport(baseUrl: string, options: Partial<TransportOptions> = {}): MetadataTransport {
  const t = new MetadataTransport({
    service: 'azure',
    baseUrl,
    budget: new TokenBucket({ ratePerSecond: 1_000, burst: 100, clock: systemClock }),
    clock: systemClock,
    ...options,
  });
  transports.push(t);
  return t;
}

async function failure(promise: Promise<unknown>): Promise<MetadataError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(MetadataError);
  return err as MetadataError;
}

describe('MetadataTransport over node:http', () => {
  it('sends the method, headers and body, returns status, lower-case headers and text, and reuses the connection', async () => {
    const heads: string[] = [];
    const server = await rawServer((socket, head) => {
      heads.push(head);
      socket.write(answer('{"ok":true}', 'X-Ms-Version: 2023-07-01\r\n'));
    });
    const t = transport(`${server.url}/vm/vm-1`);
    const first = await t.send({ method: 'GET', path: '/metadata/instance', query: { 'api-version': '2023-07-01' }, headers: { Metadata: 'true' } });
    expect(first).toEqual({ status: 200, headers: expect.objectContaining({ 'x-ms-version': '2023-07-01' }), text: '{"ok":true}' });
    await t.send({ method: 'PUT', path: '/latest/api/token', headers: { 'X-aliyun-ecs-metadata-token-ttl-seconds': '60' } });
    await t.send({ method: 'POST', path: '/metadata/scheduledevents', body: '{"StartRequests":[]}' });
    expect(heads[0]).toMatch(/^GET \/vm\/vm-1\/metadata\/instance\?api-version=2023-07-01 HTTP\/1.1\r\n/);
    expect(heads[0]).toMatch(/\r\nMetadata: true/i);
    expect(heads[0]).toMatch(/\r\nuser-agent: nodemeta-agent/i);
    expect(heads[1]).toMatch(/^PUT [\s\S]*\r\ncontent-length: 0/i);
    expect(heads[2]).toMatch(/^POST [\s\S]*\r\ncontent-type: application\/json[\s\S]*\r\ncontent-length: 20/i);
    expect(server.connections()).toBe(1);
  });

  it('reports an answer cut short of its Content-Length as a connection error, never as a shorter body', async () => {
    const server = await rawServer((socket) => {
      socket.write('HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{"compute":{"name":"vm-');
      setTimeout(() => socket.destroy(), 20);
    });
    const err = await failure(transport(server.url).send({ method: 'GET', path: '/metadata/instance' }));
    expect(err.kind).toBe('connection');
    expect(err.message).toBe('azure metadata service GET /metadata/instance: connection reset or closed before a complete answer [connection error]');
  });

  it('reports a chunked answer that ends without its last chunk as a connection error', async () => {
    const server = await rawServer((socket) => {
      socket.write('HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\n{"a":\r\n');
      setTimeout(() => socket.end(), 20);
    });
    const err = await failure(transport(server.url).send({ method: 'GET', path: '/x' }));
    expect(err.kind).toBe('connection');
    expect(err.message).toMatch(/closed before a complete answer/);
  });

  it('reports a connection closed before any answer ("socket hang up") as a reset', async () => {
    const server = await rawServer((socket) => socket.destroy());
    const err = await failure(transport(server.url).send({ method: 'GET', path: '/x' }));
    expect(err.kind).toBe('connection');
    expect(err.message).toMatch(/connection reset or closed before a complete answer/);
  });

  it('reports a refused connection', async () => {
    const server = await rawServer(() => undefined);
    const url = server.url;
    await server.close();
    servers.length = 0;
    const err = await failure(transport(url).send({ method: 'GET', path: '/x' }));
    expect(err.kind).toBe('connection');
    expect(err.detail).toBe('connection refused');
  });

  it('refuses an answer larger than maxResponseBytes, declared or streamed, as malformed', async () => {
    const big = 'x'.repeat(5_000);
    const declared = await rawServer((socket) => socket.write(answer(big)));
    const e1 = await failure(transport(declared.url, { maxResponseBytes: 1_000 }).send({ method: 'GET', path: '/x' }));
    expect(e1.kind).toBe('malformed');
    expect(e1.detail).toBe('answer larger than 1000 bytes');
    const streamed = await rawServer((socket) => {
      socket.write('HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n');
      for (let i = 0; i < 5; i++) socket.write(`3e8\r\n${'y'.repeat(1_000)}\r\n`);
    });
    const e2 = await failure(transport(streamed.url, { maxResponseBytes: 1_000 }).send({ method: 'GET', path: '/x' }));
    expect(e2.kind).toBe('malformed');
    expect(e2.detail).toBe('answer larger than 1000 bytes');
  });

  it('times out waiting for headers, and for a stalled body, with the request timeout', async () => {
    const silent = await rawServer(() => undefined);
    const e1 = await failure(transport(silent.url, { requestTimeoutMs: 150 }).send({ method: 'GET', path: '/x' }));
    expect(e1.kind).toBe('timeout');
    expect(e1.detail).toBe('no answer within 150 ms');
    const stalling = await rawServer((socket) => socket.write('HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\n{"a'));
    const e2 = await failure(transport(stalling.url).send({ method: 'GET', path: '/x', timeoutMs: 150 }));
    expect(e2.kind).toBe('timeout');
    expect(e2.detail).toBe('answer body stalled for 150 ms');
  });

  it('times its waits on the clock it is given, not on raw timers', async () => {
    const clock = new FakeClock();
    const armed = new Promise<void>((resolve) => {
      clock.onTimer = (ms) => {
        if (ms === 60_000) resolve();
      };
    });
    const silent = await rawServer(() => undefined);
    const pending = failure(transport(silent.url, { clock, requestTimeoutMs: 60_000 }).send({ method: 'GET', path: '/x' }));
    await armed; // connected: the wait for the headers is the clock's
    clock.advance(60_000);
    const err = await pending;
    expect(err.kind).toBe('timeout');
    expect(err.detail).toBe('no answer within 60000 ms');
  });

  it('shortens its timeout to the deadline and refuses to start past it', async () => {
    const silent = await rawServer(() => undefined);
    const t = transport(silent.url);
    const started = Date.now();
    const e1 = await failure(t.send({ method: 'GET', path: '/x', deadline: Date.now() + 200 }));
    expect(e1.kind).toBe('timeout');
    expect(Date.now() - started).toBeLessThan(2_000);
    const e2 = await failure(t.send({ method: 'GET', path: '/x', deadline: Date.now() - 1 }));
    expect(e2.detail).toBe('the deadline passed before the request could be sent');
  });

  it('stops at once when the signal aborts, as a timeout', async () => {
    const silent = await rawServer(() => undefined);
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 50);
    const err = await failure(transport(silent.url).send({ method: 'GET', path: '/x', signal: controller.signal }));
    expect(err.kind).toBe('timeout');
    expect(err.detail).toBe('cancelled or out of time');
  });

  it('tells onResponse of every outcome, status or failure kind, with folded tag paths', async () => {
    let calls = 0;
    const server = await rawServer((socket) => (calls++ === 0 ? socket.write(answer('v')) : socket.destroy()));
    const seen: unknown[] = [];
    const t = transport(server.url, { onResponse: (o) => seen.push(o) });
    await t.send({ method: 'GET', path: '/latest/meta-data/tags/instance/team' });
    await failure(t.send({ method: 'GET', path: '/x' }));
    expect(seen).toEqual([
      { method: 'GET', endpoint: '/latest/meta-data/tags/instance/*', code: '200' },
      { method: 'GET', endpoint: '/x', code: 'connection' },
    ]);
  });

  it('close() destroys its kept-alive sockets', async () => {
    const server = await rawServer((socket) => socket.write(answer('{}')));
    const t = transport(server.url);
    await t.send({ method: 'GET', path: '/x' });
    expect(server.open()).toBe(1);
    await t.close();
    for (let i = 0; i < 100 && server.open() > 0; i++) await new Promise((resolve) => setTimeout(resolve, 10));
    expect(server.open()).toBe(0);
  });
});
