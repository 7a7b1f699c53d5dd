// The agent never talks to a metadata service through a proxy (link-local and 100.100.100.200 are
// reachable only from the VM itself; both providers forbid proxies), even when the Node process is
// told to honour the proxy variables (NODE_USE_ENV_PROXY=1, Node 24): its http Agents are its own,
// built with an empty proxy environment. And it runs under the V8 flags it ships with
// (`--lite-mode --max-semi-space-size=1`: no WebAssembly, so no undici). The executable is the built
// one (dist/, `make test-contract`).
import { spawn } from 'node:child_process';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { Harness } from './imds-harness.js';

jest.setTimeout(60_000);

const NODEMETA = join(process.cwd(), 'dist/cmd/nodemeta.js');
/** How the agent runs in its DaemonSet (docs: charts/nodemeta, the agent's container command). */
const AGENT_V8_FLAGS = ['--lite-mode', '--max-semi-space-size=1'];

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function run(args: string[], env: NodeJS.ProcessEnv): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, args, { env: { ...process.env, ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

const proxyEnv = (proxy: string): NodeJS.ProcessEnv => ({
  NODE_USE_ENV_PROXY: '1',
  HTTP_PROXY: proxy,
  http_proxy: proxy,
  HTTPS_PROXY: proxy,
  https_proxy: proxy,
  NO_PROXY: '',
  no_proxy: '',
});

describe('nodemeta agent and proxy variables', () => {
  let azure: Harness;
  let alibaba: Harness;
  let proxy: Server;
  let proxyUrl: string;
  const proxied: string[] = [];

  beforeAll(async () => {
    azure = await Harness.start('azure');
    alibaba = await Harness.start('alibaba');
    // A "proxy" that records what reaches it and refuses to forward anything.
    proxy = createServer((req: IncomingMessage, res) => {
      proxied.push(`${req.method} ${req.url}`);
      res.writeHead(502).end('proxy says no\n');
    });
    proxy.on('connect', (req: IncomingMessage, socket) => {
      proxied.push(`CONNECT ${req.url}`);
      socket.end('HTTP/1.1 502 Bad Gateway\r\n\r\n');
    });
    await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
    proxyUrl = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await azure.close();
    await alibaba.close();
    proxy.closeAllConnections();
    await new Promise((r) => proxy.close(r));
  });

  it('control: with NODE_USE_ENV_PROXY=1 this Node sends a plain http.get through the proxy', async () => {
    proxied.length = 0;
    const target = azure.emu.endpoint(azure.vm);
    const r = await run(['-e', `require('node:http').get(${JSON.stringify(`${target}/metadata/instance`)}, (res) => { console.log(res.statusCode); res.resume(); })`], proxyEnv(proxyUrl));
    expect(r.stdout.trim()).toBe('502');
    expect(proxied).toEqual([`GET ${target}/metadata/instance`]);
  });

  it.each(['azure', 'alibaba'] as const)('%s: agent --once reaches the emulator directly, the proxy sees nothing', async (provider) => {
    proxied.length = 0;
    const h = provider === 'azure' ? azure : alibaba;
    await h.clearRequests();
    const r = await run([...AGENT_V8_FLAGS, NODEMETA, 'agent', '--once', '--provider', provider, '--endpoint', h.emu.endpoint(h.vm), '--timeout', '20s'], proxyEnv(proxyUrl));
    expect(r.stderr).not.toMatch(/ERR_WEBASSEMBLY|WebAssembly/);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ provider });
    expect(proxied).toEqual([]);
    expect((await h.requests()).length).toBeGreaterThan(0);
  });

  it('a dead proxy address changes nothing either (provider detection included)', async () => {
    const r = await run([...AGENT_V8_FLAGS, NODEMETA, 'agent', '--once', '--endpoint', azure.emu.endpoint(azure.vm), '--timeout', '20s'], proxyEnv('http://127.0.0.1:9'));
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ provider: 'azure' });
  });
});
