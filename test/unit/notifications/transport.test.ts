// The HTTP edge of the sinks against a real server on loopback: what each answer comes to, the
// timeout, Retry-After, no redirects followed, and the URL (its token) kept out of everything returned.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { failureOf, fetchTransport, redact, resolveUrl, UrlSourceError } from '../../../src/controller/notifications/transport.js';

const TOKEN = 'xoxb-very-secret-0123456789';
let server: Server;
let base = '';
const received: { url: string; headers: IncomingMessage['headers']; body: string }[] = [];
const hanging: ServerResponse[] = [];

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
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  for (const res of hanging) res.destroy();
  await new Promise((resolve) => server.close(resolve));
});

const post = (path: string, timeoutMs = 2_000) => fetchTransport({ url: `${base}/${path}/${TOKEN}?sig=${TOKEN}`, body: '{"a":1}', timeoutMs, userAgent: 'nodemeta-controller/test' });

describe('fetchTransport', () => {
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

  test('no answer in time is a timeout; a closed port is a connection error', async () => {
    expect(await post('hang', 200)).toEqual({ kind: 'timeout' });
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    expect(await fetchTransport({ url: `http://127.0.0.1:${port}/${TOKEN}`, body: '{}', timeoutMs: 2_000, userAgent: 'x' })).toEqual({ kind: 'connection', code: 'ECONNREFUSED' });
  });

  test('failures are reduced to a fixed word: an error message that quotes the URL is never passed on', () => {
    const leaky = new TypeError(`fetch failed for https://hooks.example/${TOKEN}`, { cause: Object.assign(new Error(`getaddrinfo ENOTFOUND ${TOKEN}`), { code: 'ENOTFOUND' }) });
    expect(failureOf(leaky)).toEqual({ kind: 'connection', code: 'ENOTFOUND' });
    expect(failureOf(Object.assign(new Error('x'), { name: 'TimeoutError' }))).toEqual({ kind: 'timeout' });
    expect(failureOf(new TypeError('fetch failed', { cause: { code: 'UND_ERR_HEADERS_TIMEOUT' } }))).toEqual({ kind: 'timeout' });
    expect(failureOf(new TypeError(`Failed to parse URL from ${TOKEN}`))).toEqual({ kind: 'connection', code: 'error' });
  });

  test('redact removes the URL, its path, query and token-like parts', () => {
    const url = `https://prod.westeurope.logic.azure.com/workflows/abc123def456/triggers/manual/paths/invoke?api-version=2016-06-01&sig=${TOKEN}`;
    const text = redact(`posting to ${url} failed; sig=${TOKEN}; workflow abc123def456`, url);
    expect(text).not.toContain(TOKEN);
    expect(text).not.toContain('abc123def456');
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
