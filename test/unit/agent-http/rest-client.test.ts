// The agent's API-server client over node:https, against a local TLS server with certificates made by
// openssl (a CA, a serving cert for 127.0.0.1, a client cert): TLS both ways, the request shapes, the
// error classification, and the watch's newline-delimited JSON split anywhere across chunks.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import https from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { TLSSocket } from 'node:tls';
import type { KubeCredentials } from '../../../src/kube/credentials.js';
import { KubeApiError } from '../../../src/api/kube-errors.js';
import { KubeRestClient, KubeTimeoutError, type WatchEvent } from '../../../src/kube/rest-client.js';
import type { Clock } from '../../../src/time/clock.js';
import { FakeClock } from '../runtime/fake-clock.js';

function hasOpenssl(): boolean {
  try {
    execFileSync('openssl', ['version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

interface Pki {
  ca: string;
  serverCert: string;
  serverKey: string;
  clientCert: string;
  clientKey: string;
}

function makePki(dir: string): Pki {
  const ssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  ssl('req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '1', '-subj', '/CN=nodemeta-test-ca');
  ssl('req', ...ec, '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=127.0.0.1');
  ssl('req', ...ec, '-keyout', 'client.key', '-out', 'client.csr', '-subj', '/O=system:nodes/CN=system:node:vm-1');
  for (const [name, ext] of [
    ['server', 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n'],
    ['client', 'extendedKeyUsage=clientAuth\n'],
  ] as const) {
    execFileSync('sh', ['-c', `printf '${ext}' > ${name}.ext`], { cwd: dir });
    ssl('x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', `${name}.crt`, '-days', '1', '-extfile', `${name}.ext`);
  }
  const read = (f: string) => readFileSync(path.join(dir, f), 'utf8');
  return { ca: read('ca.crt'), serverCert: read('server.crt'), serverKey: read('server.key'), clientCert: read('client.crt'), clientKey: read('client.key') };
}

interface Seen {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: string;
  clientCN: string | undefined;
}

type Route = (req: Seen, res: ServerResponse) => void;

const openssl = hasOpenssl();
const maybe = openssl ? describe : describe.skip;

maybe('KubeRestClient over node:https (local TLS server, openssl certificates)', () => {
  let dir: string;
  let pki: Pki;
  let server: https.Server;
  let base: string;
  let route: Route = (_req, res) => res.end('{}');
  const seen: Seen[] = [];
  const clients: KubeRestClient[] = [];

  const credentials = (extra: Partial<KubeCredentials> = {}): KubeCredentials => ({
    server: base,
    ca: pki.ca,
    cert: pki.clientCert,
    key: pki.clientKey,
    token: async () => 'secret-token',
    source: 'test',
    ...extra,
  });
  const client = (extra: Partial<KubeCredentials> = {}, timeoutMs?: number, clock?: Clock) => {
    const c = new KubeRestClient(credentials(extra), { userAgent: 'nodemeta-agent/vm-1', timeoutMs, clock });
    clients.push(c);
    return c;
  };
  const json = (res: ServerResponse, status: number, value: unknown) => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(value));
  };

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'nodemeta-rest-client-'));
    pki = makePki(dir);
    server = https.createServer({ ca: pki.ca, cert: pki.serverCert, key: pki.serverKey, requestCert: true, rejectUnauthorized: false }, (req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const peer = (req.socket as TLSSocket).getPeerCertificate();
        const s: Seen = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString('utf8'), clientCN: [peer?.subject?.CN ?? []].flat()[0] };
        seen.push(s);
        route(s, res);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    await Promise.all(clients.map((c) => c.close()));
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    rmSync(dir, { recursive: true, force: true });
  });

  it('verifies the server against the CA, presents the client certificate and the bearer token', async () => {
    route = (_req, res) => json(res, 200, { metadata: { name: 'vm-1', uid: 'u-1' } });
    const c = client();
    await expect(c.get('/api/v1/nodes/vm-1')).resolves.toEqual({ metadata: { name: 'vm-1', uid: 'u-1' } });
    const last = seen.at(-1)!;
    expect(last).toMatchObject({ method: 'GET', url: '/api/v1/nodes/vm-1', clientCN: 'system:node:vm-1' });
    expect(last.headers).toMatchObject({ authorization: 'Bearer secret-token', accept: 'application/json', 'user-agent': 'nodemeta-agent/vm-1' });
    expect(c.server).toBe(base);
  });

  it('refuses a server its CA did not sign, unless told to skip verification', async () => {
    route = (_req, res) => json(res, 200, {});
    const err = await client({ ca: undefined }).get('/api').catch((e: unknown) => e);
    expect((err as { code?: string }).code).toMatch(/SELF_SIGNED|UNABLE_TO_VERIFY|UNABLE_TO_GET_ISSUER/);
    await expect(client({ ca: undefined, insecureSkipTLSVerify: true }).get('/api')).resolves.toEqual({});
  });

  it('sends create, server-side apply and merge patch with their content types and queries', async () => {
    route = (req, res) => json(res, 200, { echoed: JSON.parse(req.body || 'null') as unknown });
    const c = client();
    await c.create('/apis/x/v1/things', { a: 1 }, { query: { fieldManager: 'nodemeta-agent' } });
    await c.apply('/apis/x/v1/things/n/status', { status: { b: 'é' } }, 'nodemeta-agent', { force: true });
    await c.mergePatch('/apis/x/v1/things/n', { metadata: { labels: { c: null } } });
    const [create, apply, patch] = seen.slice(-3);
    expect(create).toMatchObject({ method: 'POST', url: '/apis/x/v1/things?fieldManager=nodemeta-agent', body: '{"a":1}' });
    expect(create!.headers['content-type']).toBe('application/json');
    expect(apply).toMatchObject({ method: 'PATCH', url: '/apis/x/v1/things/n/status?fieldManager=nodemeta-agent&force=true' });
    expect(apply!.headers['content-type']).toBe('application/apply-patch+yaml');
    expect(apply!.headers['content-length']).toBe(String(Buffer.byteLength(apply!.body)));
    expect(patch).toMatchObject({ method: 'PATCH', url: '/apis/x/v1/things/n', body: '{"metadata":{"labels":{"c":null}}}' });
    expect(patch!.headers['content-type']).toBe('application/merge-patch+json');
  });

  it('classifies a Status answer as a KubeApiError with its code and reason', async () => {
    route = (_req, res) => json(res, 409, { kind: 'Status', reason: 'Conflict', message: 'the object has been modified', code: 409 });
    const err = (await client().mergePatch('/api/v1/nodes/vm-1', {}).catch((e: unknown) => e)) as KubeApiError;
    expect(err).toBeInstanceOf(KubeApiError);
    expect(err.status).toBe(409);
    expect(err.reason).toBe('Conflict');
    expect(err.message).toBe('PATCH /api/v1/nodes/vm-1: 409 Conflict: the object has been modified');
    route = (_req, res) => {
      res.writeHead(503, { 'content-type': 'text/plain' });
      res.end('upstream unavailable');
    };
    const plain = (await client().get('/api').catch((e: unknown) => e)) as KubeApiError;
    expect(plain).toMatchObject({ status: 503, reason: 'Unknown', body: 'upstream unavailable' });
  });

  it('fails an answer cut short of its Content-Length instead of parsing half of it', async () => {
    route = (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': '200' });
      res.write('{"metadata":{"name":');
      setTimeout(() => res.socket?.destroy(), 20);
    };
    const err = await client().get('/api/v1/nodes/vm-1').catch((e: unknown) => e);
    // Node's own error (another realm than jest's: compared by code, not by class).
    expect(err).toMatchObject({ code: 'ECONNRESET', message: 'aborted' });
  });

  it('times out a server that does not answer, with a retryable error', async () => {
    route = () => undefined;
    const err = await client({}, 150).get('/api').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(KubeTimeoutError);
    expect((err as Error).message).toBe('GET /api: no answer within 150 ms');
  });

  it('times its waits on the clock it is given, not on raw timers', async () => {
    route = () => undefined;
    const clock = new FakeClock();
    const armed = new Promise<void>((resolve) => {
      clock.onTimer = (ms) => {
        if (ms === 60_000) resolve();
      };
    });
    const pending = client({}, 60_000, clock).get('/api').catch((e: unknown) => e);
    await armed; // connected: the wait for the headers is the clock's
    clock.advance(60_000);
    const err = await pending;
    expect(err).toBeInstanceOf(KubeTimeoutError);
    expect((err as Error).message).toBe('GET /api: no answer within 60000 ms');
  });

  it('streams watch events split anywhere across chunks, multi-byte characters included', async () => {
    const events: WatchEvent<{ metadata: { name: string } }>[] = [
      { type: 'ADDED', object: { metadata: { name: 'vm-1' } } },
      { type: 'MODIFIED', object: { metadata: { name: 'vm-1-ünïcode-✓' } } },
      { type: 'BOOKMARK', object: { metadata: { name: '' } } },
    ];
    const stream = Buffer.from(events.map((e) => `${JSON.stringify(e)}\n`).join('') + '\n');
    route = (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      // 7-byte pieces: lines and UTF-8 sequences are cut at arbitrary places.
      let offset = 0;
      const next = () => {
        if (offset >= stream.length) return res.end();
        res.write(stream.subarray(offset, (offset += 7)));
        setImmediate(next);
      };
      next();
    };
    const got: unknown[] = [];
    await client().watch('/apis/x/v1/things', { fieldSelector: 'metadata.name=vm-1', resourceVersion: '5' }, (e) => got.push(e));
    expect(got).toEqual(events);
    expect(seen.at(-1)!.url).toBe('/apis/x/v1/things?fieldSelector=metadata.name%3Dvm-1&resourceVersion=5&watch=true&allowWatchBookmarks=true');
  });

  it('ends a watch with a KubeApiError on an ERROR event (410 Gone: re-list)', async () => {
    route = (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write(`${JSON.stringify({ type: 'ERROR', object: { kind: 'Status', code: 410, reason: 'Expired', message: 'too old resource version' } })}\n`);
    };
    const err = (await client().watch('/apis/x/v1/things', {}, () => undefined).catch((e: unknown) => e)) as KubeApiError;
    expect(err).toBeInstanceOf(KubeApiError);
    expect(err).toMatchObject({ status: 410, reason: 'Expired', method: 'WATCH' });
  });

  it('ends a watch when the signal aborts, with the abort reason', async () => {
    route = (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write(`${JSON.stringify({ type: 'ADDED', object: {} })}\n`);
    };
    const controller = new AbortController();
    const got: unknown[] = [];
    const watching = client().watch('/apis/x/v1/things', {}, (e) => {
      got.push(e);
      controller.abort();
    }, controller.signal);
    const err = await watching.catch((e: unknown) => e);
    expect((err as Error).name).toBe('AbortError');
    expect(got).toHaveLength(1);
  });

  it('reports a watch stream cut off by the server as an error, not as its end', async () => {
    route = (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write(`${JSON.stringify({ type: 'ADDED', object: {} })}\n{"type":"MOD`);
      setTimeout(() => res.socket?.destroy(), 20);
    };
    const got: unknown[] = [];
    const err = await client().watch('/apis/x/v1/things', {}, (e) => got.push(e)).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'ECONNRESET', message: 'aborted' });
    expect(got).toHaveLength(1);
  });
});
