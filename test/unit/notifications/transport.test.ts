// The HTTP edge of the sinks (undici) against a real server and a real forward proxy on loopback:
// what each answer comes to, the timeout on the clock, Retry-After, no redirects followed, one
// connection reused, the proxy variables (NO_PROXY, lower case), what a refusing or absent proxy
// comes to, and the URL (its token) kept out of everything returned.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { errors } from 'undici';
import { createWebhookClient, failureOf, proxySettings, redact, resolveUrl, UrlSourceError, type WebhookClient } from '../../../src/controller/notifications/transport.js';
import { describeAnswer, verdictOf } from '../../../src/controller/notifications/sink.js';
import { systemClock } from '../../../src/time/clock.js';
import { ForwardProxy } from '../../e2e/lib/forward-proxy.js';
import { FakeClock } from '../runtime/fake-clock.js';

const TOKEN = 'xoxb-very-secret-0123456789';
let server: Server;
let base = '';
const received: { url: string; headers: IncomingMessage['headers']; body: string }[] = [];
const hanging: ServerResponse[] = [];
let connections = 0;
const clients: WebhookClient[] = [];

/** A client as a sink gets it, closed after the file. */
function client(env: NodeJS.ProcessEnv = {}, clock = systemClock): WebhookClient {
  const created = createWebhookClient({ clock, env });
  clients.push(created);
  return created;
}

beforeAll(async () => {
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString('utf8')));
    req.on('end', () => {
      received.push({ url: req.url ?? '', headers: req.headers, body });
      const path = (req.url ?? '').split('/')[1];
      if (path === 'ok') return void res.writeHead(200).end('ok');
      if (path === 'teams') return void res.writeHead(202).end();
      if (path === 'echo') return void res.writeHead(500).end(`cannot post to ${base}${req.url} (${req.url})\n\u0007`);
      if (path === 'busy') return void res.writeHead(429, { 'retry-after': '7' }).end('slow down');
      if (path === 'moved') return void res.writeHead(302, { location: `${base}/ok` }).end();
      if (path === 'hang') return void hanging.push(res);
      res.writeHead(404).end('no_service');
    });
  });
  server.on('connection', () => connections++);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await Promise.all(clients.map((c) => c.close()));
  for (const res of hanging) res.destroy();
  await new Promise((resolve) => server.close(resolve));
});

const request = (path: string, timeoutMs = 2_000) => ({ url: `${base}/${path}/${TOKEN}?sig=${TOKEN}`, body: '{"a":1}', timeoutMs, userAgent: 'nodemeta-controller/test' });
let direct: WebhookClient;
const post = (path: string, timeoutMs = 2_000) => direct.send(request(path, timeoutMs));

describe('the webhook client, direct', () => {
  beforeAll(() => {
    direct = client();
  });

  test('POSTs the JSON body with its content type and user agent; a 2xx is answered without a detail', async () => {
    expect(await post('ok')).toEqual({ kind: 'answered', status: 200 });
    expect(await post('teams')).toEqual({ kind: 'answered', status: 202 });
    const request = received.find((r) => r.url.startsWith('/ok/'))!;
    expect(request.body).toBe('{"a":1}');
    expect(request.headers['content-type']).toBe('application/json');
    expect(request.headers['user-agent']).toBe('nodemeta-controller/test');
  });

  test("a refusal keeps the start of its body, with the URL and its token cut out", async () => {
    const answer = await post('echo');
    expect(answer).toMatchObject({ kind: 'answered', status: 500 });
    const detail = (answer as { detail: string }).detail;
    expect(detail).toContain('cannot post to');
    expect(detail).not.toContain(TOKEN);
    // eslint-disable-next-line no-control-regex
    expect(detail).not.toMatch(/[\u0000-\u001f]/);
    expect(await post('nothing-here')).toEqual({ kind: 'answered', status: 404, detail: 'no_service' });
  });

  test('Retry-After in seconds', async () => {
    expect(await post('busy')).toEqual({ kind: 'answered', status: 429, retryAfterMs: 7_000, detail: 'slow down' });
  });

  test('a redirect is not followed (the body must not go to another host)', async () => {
    const before = received.filter((r) => r.url.startsWith('/ok/')).length;
    expect(await post('moved')).toMatchObject({ kind: 'answered', status: 302 });
    expect(received.filter((r) => r.url.startsWith('/ok/')).length).toBe(before);
  });

  test('one connection serves one request after the other (kept alive)', async () => {
    const before = connections;
    const reused = client();
    for (let i = 0; i < 3; i++) expect(await reused.send(request('ok'))).toEqual({ kind: 'answered', status: 200 });
    expect(connections - before).toBe(1);
  });

  test("the timeout runs on the clock it is given: no answer before the clock's deadline is a timeout", async () => {
    const clock = new FakeClock();
    const onClock = client({}, clock);
    const waiting = hanging.length;
    let settled = false;
    const answer = onClock.send(request('hang', 10_000)).finally(() => (settled = true));
    while (hanging.length === waiting) await new Promise((resolve) => setImmediate(resolve));
    clock.advance(9_999);
    await new Promise((resolve) => setImmediate(resolve));
    expect(settled).toBe(false);
    clock.advance(1);
    expect(await answer).toEqual({ kind: 'timeout' });
  });

  test('no answer in time is a timeout; a closed port is a connection error', async () => {
    expect(await post('hang', 200)).toEqual({ kind: 'timeout' });
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    expect(await direct.send({ url: `http://127.0.0.1:${port}/${TOKEN}`, body: '{}', timeoutMs: 2_000, userAgent: 'x' })).toEqual({ kind: 'connection', code: 'ECONNREFUSED' });
  });

  test('failures are reduced to a fixed word: an error message that quotes the URL is never passed on', () => {
    const leaky = Object.assign(new Error(`getaddrinfo ENOTFOUND hooks.example for https://hooks.example/${TOKEN}`), { code: 'ENOTFOUND' });
    expect(failureOf(leaky)).toEqual({ kind: 'connection', code: 'ENOTFOUND' });
    expect(failureOf(Object.assign(new Error('x'), { name: 'TimeoutError' }))).toEqual({ kind: 'timeout' });
    expect(failureOf(new errors.HeadersTimeoutError())).toEqual({ kind: 'timeout' });
    expect(failureOf(new errors.ConnectTimeoutError())).toEqual({ kind: 'timeout' });
    expect(failureOf(new errors.InvalidArgumentError(`invalid url ${TOKEN}`))).toEqual({ kind: 'connection', code: 'UND_ERR_INVALID_ARG' });
    expect(failureOf(new Error(`Failed to parse URL from ${TOKEN}`))).toEqual({ kind: 'connection', code: 'error' });
  });

  test("undici's proxy errors are the proxy's: its answer to the CONNECT, its connection", () => {
    expect(failureOf(new errors.RequestAbortedError('Proxy response (407) !== 200 when HTTP Tunneling'))).toEqual({ kind: 'proxy-refused', status: 407 });
    expect(failureOf(new errors.RequestAbortedError('Proxy response (403) !== 200 when HTTP Tunneling'))).toEqual({ kind: 'proxy-refused', status: 403 });
    expect(failureOf(new errors.InvalidArgumentError('Proxy Authentication Required (407)'))).toEqual({ kind: 'proxy-refused', status: 407 });
    expect(failureOf(new errors.ProxyConnectionError(Object.assign(new Error('other side closed'), { code: 'UND_ERR_SOCKET' })))).toEqual({ kind: 'proxy-connection', code: 'UND_ERR_SOCKET' });
    expect(failureOf(new errors.SecureProxyConnectionError(Object.assign(new Error('bad cert'), { code: 'ERR_TLS_CERT_ALTNAME_INVALID' })))).toEqual({ kind: 'proxy-connection', code: 'ERR_TLS_CERT_ALTNAME_INVALID' });
    // A request aborted for another reason than a proxy's answer is not the proxy's.
    expect(failureOf(new errors.RequestAbortedError())).toEqual({ kind: 'timeout' });
  });

  test("a proxy's refusal reads as such, and only its 5xx (it cannot reach the receiver) is retried", () => {
    expect(describeAnswer({ kind: 'proxy-refused', status: 407 }, 10_000)).toBe('proxy refused: 407 Proxy Authentication Required');
    expect(describeAnswer({ kind: 'proxy-refused', status: 403 }, 10_000)).toBe('proxy refused: 403 Forbidden');
    expect(describeAnswer({ kind: 'proxy-connection', code: 'ECONNREFUSED' }, 10_000)).toBe('proxy unreachable (ECONNREFUSED)');
    expect([407, 403, 502].map((status) => verdictOf({ kind: 'proxy-refused', status }))).toEqual(['final', 'final', 'retry']);
    expect(verdictOf({ kind: 'proxy-connection', code: 'ECONNREFUSED' })).toBe('retry');
  });

  test('redact removes the URL, its path, query and token-like parts', () => {
    const url = `https://prod.westeurope.logic.azure.com/workflows/abc123def456/triggers/manual/paths/invoke?api-version=2016-06-01&sig=${TOKEN}`;
    const text = redact(`posting to ${url} failed; sig=${TOKEN}; workflow abc123def456`, url);
    expect(text).not.toContain(TOKEN);
    expect(text).not.toContain('abc123def456');
  });
});

describe('the webhook client through a forward proxy', () => {
  let proxy: ForwardProxy;
  beforeAll(async () => {
    proxy = await ForwardProxy.start();
  });
  afterAll(async () => {
    await proxy.close();
  });

  const receiverHost = () => new URL(base).host;

  test('HTTP_PROXY (or http_proxy) takes a request to the receiver through a CONNECT tunnel of the proxy', async () => {
    for (const env of [{ HTTP_PROXY: proxy.url }, { http_proxy: proxy.url }]) {
      const before = proxy.log.length;
      const seen = received.length;
      const proxied = client(env);
      expect(proxied.route).toBe(proxy.url);
      expect(await proxied.send(request('ok'))).toEqual({ kind: 'answered', status: 200 });
      expect(proxy.log.slice(before)).toEqual([{ method: 'CONNECT', target: receiverHost(), status: 200 }]);
      expect(received.slice(seen).map((r) => r.url.split('/')[1])).toEqual(['ok']);
    }
  });

  test('HTTPS_PROXY alone is for https:// receivers: an http:// one goes direct', async () => {
    const before = proxy.log.length;
    const seen = received.length;
    expect(await client({ HTTPS_PROXY: proxy.url }).send(request('ok'))).toEqual({ kind: 'answered', status: 200 });
    expect(proxy.log.slice(before)).toEqual([]);
    expect(received.length).toBe(seen + 1);
  });

  test('NO_PROXY covering the receiver sends it direct: the proxy sees nothing', async () => {
    for (const env of [{ HTTP_PROXY: proxy.url, NO_PROXY: '127.0.0.1' }, { HTTPS_PROXY: proxy.url, HTTP_PROXY: proxy.url, no_proxy: `localhost,${receiverHost()}` }]) {
      const before = proxy.log.length;
      expect(await client(env).send(request('ok'))).toEqual({ kind: 'answered', status: 200 });
      expect(proxy.log.slice(before)).toEqual([]);
    }
  });

  test('a refusing proxy is reported as such (407, 403), never as an answer of the receiver', async () => {
    const proxied = client({ HTTP_PROXY: proxy.url });
    try {
      proxy.refuse(407);
      expect(await proxied.send(request('ok'))).toEqual({ kind: 'proxy-refused', status: 407 });
      proxy.refuse(403);
      expect(await proxied.send(request('ok'))).toEqual({ kind: 'proxy-refused', status: 403 });
    } finally {
      proxy.refuse(undefined);
    }
    expect(await proxied.send(request('ok'))).toEqual({ kind: 'answered', status: 200 });
  });

  test('a proxy nobody listens on is unreachable, not the receiver', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    const proxied = client({ HTTP_PROXY: `http://user:secret-password@127.0.0.1:${port}` });
    expect(proxied.route).toBe(`http://127.0.0.1:${port}`);
    expect(await proxied.send(request('ok'))).toEqual({ kind: 'proxy-connection', code: 'ECONNREFUSED' });
  });

  test('a proxy variable that is not an http(s) URL fails every request as such, never sends direct', async () => {
    const seen = received.length;
    for (const HTTPS_PROXY of ['proxy.corp.example:3128', 'socks5://127.0.0.1:1080', 'not a url']) {
      const broken = client({ HTTPS_PROXY, HTTP_PROXY: HTTPS_PROXY });
      expect(broken.route).toBe('a proxy variable that is not an http(s) URL');
      expect(await broken.send(request('ok'))).toEqual({ kind: 'proxy-connection', code: 'ERR_INVALID_PROXY_URL' });
    }
    expect(received.length).toBe(seen);
  });

  test('the variables: lower case first, empty is unset', () => {
    expect(proxySettings({ HTTPS_PROXY: 'http://upper:1', https_proxy: 'http://lower:2', HTTP_PROXY: ' ', NO_PROXY: 'a', no_proxy: '' })).toEqual({ httpsProxy: 'http://lower:2', httpProxy: '', noProxy: 'a' });
  });
});

describe('resolveUrl', () => {
  const files: Record<string, string> = { '/secrets/ops/url': `https://hooks.slack.com/services/${TOKEN}\n`, '/secrets/bad/url': `ftp://files.example/${TOKEN}` };
  const environment = {
    env: { OPS_URL: ` https://hooks.example/${TOKEN} `, EMPTY: '' } as NodeJS.ProcessEnv,
    readFile: async (path: string) => {
      if (files[path] === undefined) throw Object.assign(new Error(`ENOENT: no such file '${path}'`), { code: 'ENOENT' });
      return files[path];
    },
  };

  test('from an environment variable or a file (a mounted Secret key), whitespace trimmed', async () => {
    expect(await resolveUrl({ env: 'OPS_URL' }, environment)).toBe(`https://hooks.example/${TOKEN}`);
    expect(await resolveUrl({ file: '/secrets/ops/url' }, environment)).toBe(`https://hooks.slack.com/services/${TOKEN}`);
  });

  test('says what is missing or wrong, naming the source and never its content', async () => {
    const failure = async (source: { env: string } | { file: string }) => {
      const error = await resolveUrl(source, environment).then(() => undefined, (e: unknown) => e);
      expect(error).toBeInstanceOf(UrlSourceError);
      expect((error as Error).message).not.toContain(TOKEN);
      return (error as Error).message;
    };
    expect(await failure({ env: 'MISSING' })).toBe('environment variable MISSING is not set');
    expect(await failure({ env: 'EMPTY' })).toBe('environment variable EMPTY is not set');
    expect(await failure({ file: '/secrets/none/url' })).toBe('cannot read file /secrets/none/url: ENOENT');
    expect(await failure({ file: '/secrets/bad/url' })).toBe('file /secrets/bad/url does not hold an http(s) URL');
  });
});
