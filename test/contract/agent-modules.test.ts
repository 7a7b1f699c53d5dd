// The agent process never loads @kubernetes/client-node (it would cost over 60 MiB on every node).
// The executable as users run it (dist/, built by `make test-contract`), started under a module hook
// (fixtures/record-modules.mjs) that records every module the process resolves, against the
// emulator: with --once, and as the long-running agent until its first status write and a SIGTERM.
// The lint rule in eslint.config.js keeps such an import out of the agent's source; this keeps the
// library out of the process, whatever path it would come by (a module of ours, a require(), a
// dependency of a dependency).
// Nor what the agent's memory work took out of it (test/bench/agent-memory.bench.mjs measures each,
// docs/scaling.md): the YAML parser (only for a kubeconfig that is not JSON; a pod reads none),
// node:fs/promises, undici (npm's, which the controller's webhooks use, and Node's bundled copy) and
// HTTP/2, which an ES `import` of node:http or node:util loads through their lazy exports (the agent
// takes those modules with process.getBuiltinModule). winston writes its logs, loaded file by file
// (src/observability/logger.ts): its index, with every transport and format, stays out.
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { GROUP, PLURAL, VERSION } from '../../src/api/names.js';
import { Harness } from './imds-harness.js';

jest.setTimeout(90_000);

const NODEMETA = join(process.cwd(), 'dist/cmd/nodemeta.js');
const RECORD_MODULES = pathToFileURL(join(process.cwd(), 'test/contract/fixtures/record-modules.mjs')).href;
const DIST = pathToFileURL(join(process.cwd(), 'dist')).href;
const NODE_NAME = 'cn-hangzhou.192.168.0.10';

/** What the agent must never load: the library, and our modules built on it (the lint rule's list). */
function heavy(url: string): boolean {
  return (
    url.includes('/node_modules/@kubernetes/client-node/') ||
    [`${DIST}/controller/`, `${DIST}/kube/client-node/`, `${DIST}/runtime/informer.js`, `${DIST}/cmd/controller.js`].some((prefix) => url.startsWith(prefix))
  );
}

function expectNoClientNode(modules: string[]): void {
  // The record is real: the hook saw the agent's own modules, and a require() (prom-client is loaded
  // through createRequire), so a client-node import by either way would be in it.
  expect(modules).toEqual(
    expect.arrayContaining([`${DIST}/cmd/nodemeta.js`, `${DIST}/cmd/agent.js`, `${DIST}/agent/run-agent.js`, `${DIST}/kube/rest-client.js`, `${DIST}/agent/providers/alibaba/client.js`]),
  );
  expect(modules.filter((url) => url.includes('/node_modules/prom-client/lib/'))).not.toEqual([]);
  const loaded = modules.filter(heavy);
  expect({ loaded: loaded.length, first: loaded.slice(0, 3) }).toEqual({ loaded: 0, first: [] });
}

/** Modules the agent once loaded and no longer needs: each cost memory on every node. */
const SHED = [
  { what: "winston's index", loaded: (line: string) => line.endsWith('/node_modules/winston/lib/winston.js') },
  { what: "winston's Console, File and Http transports", loaded: (line: string) => /\/node_modules\/winston\/lib\/winston\/transports\/(console|file|http)\.js$/.test(line) },
  { what: 'yaml', loaded: (line: string) => line.includes('/node_modules/yaml/') },
  { what: 'undici', loaded: (line: string) => line.includes('/node_modules/undici/') },
  { what: "Node's bundled undici", loaded: (line: string) => line === 'builtin: NativeModule internal/deps/undici/undici' },
  { what: 'node:http2', loaded: (line: string) => line === 'builtin: NativeModule http2' },
  { what: 'node:fs/promises', loaded: (line: string) => line === 'builtin: NativeModule internal/fs/promises' },
];

function expectLean(modules: string[]): void {
  // The record of Node's own modules is real: it holds what the agent does load.
  expect(modules).toEqual(expect.arrayContaining(['builtin: NativeModule http', 'builtin: NativeModule https']));
  // Its logs are winston's: the logger and the stream transport, not the index.
  expect(modules.filter((url) => /\/node_modules\/winston\/lib\/winston\/(logger|transports\/stream)\.js$/.test(url)).length).toBe(2);
  expect(SHED.filter((m) => modules.some(m.loaded)).map((m) => m.what)).toEqual([]);
}

interface AgentProcess {
  exited: Promise<number | null>;
  output(): string;
  stop(): void;
}

function startAgent(args: string[], moduleLog: string): AgentProcess {
  const child = spawn(process.execPath, ['--import', RECORD_MODULES, NODEMETA, 'agent', ...args], {
    env: { ...process.env, NODEMETA_MODULE_LOG: moduleLog, NODE_NAME: '', HTTP_PROXY: 'http://127.0.0.1:9', http_proxy: 'http://127.0.0.1:9' },
  });
  let output = '';
  child.stdout.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr.on('data', (d: Buffer) => (output += d.toString()));
  return {
    exited: new Promise((resolve) => child.on('close', (code) => resolve(code))),
    output: () => output,
    stop: () => child.kill('SIGTERM'),
  };
}

async function recordedModules(moduleLog: string): Promise<string[]> {
  return (await readFile(moduleLog, 'utf8')).split('\n').filter(Boolean);
}

/** Just enough of an API server for the agent: its Node, its NodeMetadata (created on demand) and status applies. */
class FakeApiServer {
  readonly statusWrites: Record<string, unknown>[] = [];
  private object: Record<string, unknown> | undefined;
  private readonly server: Server;
  private firstWrite!: () => void;
  readonly firstStatusWrite = new Promise<void>((resolve) => (this.firstWrite = resolve));

  constructor() {
    this.server = createServer((req, res) => {
      let body = '';
      req.on('data', (d: Buffer) => (body += d.toString()));
      req.on('end', () => this.answer(req, body, res));
    });
  }

  async listen(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  private answer(req: IncomingMessage, body: string, res: ServerResponse): void {
    const path = new URL(req.url ?? '/', 'http://api').pathname;
    const collection = `/apis/${GROUP}/${VERSION}/${PLURAL}`;
    const send = (status: number, json: unknown): void => void res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(json));
    if (req.method === 'GET' && path === `/api/v1/nodes/${NODE_NAME}`) return send(200, { apiVersion: 'v1', kind: 'Node', metadata: { name: NODE_NAME, uid: 'uid-1' } });
    if (req.method === 'GET' && path === `${collection}/${NODE_NAME}` && this.object) return send(200, this.object);
    if (req.method === 'POST' && path === collection) {
      this.object = { ...(JSON.parse(body) as Record<string, unknown>), metadata: { name: NODE_NAME, resourceVersion: '1' } };
      return send(201, this.object);
    }
    if (req.method === 'PATCH' && path === `${collection}/${NODE_NAME}/status` && this.object) {
      const status = (JSON.parse(body) as { status: Record<string, unknown> }).status;
      this.statusWrites.push(status);
      this.object = { ...this.object, status };
      this.firstWrite();
      return send(200, this.object);
    }
    send(404, { kind: 'Status', apiVersion: 'v1', status: 'Failure', reason: 'NotFound', code: 404, message: `${req.method} ${path}: not found` });
  }
}

describe('the agent process never loads @kubernetes/client-node, nor what its memory budget shed', () => {
  let emulator: Harness;
  let dir: string;

  beforeAll(async () => {
    emulator = await Harness.start('alibaba');
    dir = await mkdtemp(join(tmpdir(), 'nodemeta-agent-modules-'));
  });
  afterAll(async () => {
    await emulator.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('with --once', async () => {
    const moduleLog = join(dir, 'once.txt');
    const agent = startAgent(['--once', '--provider', 'alibaba', '--endpoint', emulator.emu.endpoint(emulator.vm)], moduleLog);
    expect([await agent.exited, agent.output()]).toEqual([0, expect.stringContaining('"provider": "alibaba"')]);
    expectNoClientNode(await recordedModules(moduleLog));
    expectLean(await recordedModules(moduleLog));
  });

  it('as the long-running agent: start, first status write, SIGTERM', async () => {
    const api = new FakeApiServer();
    const server = await api.listen();
    // As JSON, which the agent reads without the YAML parser: as in a pod, which reads no kubeconfig.
    const kubeconfig = join(dir, 'kubeconfig.json');
    await writeFile(
      kubeconfig,
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'Config',
        'current-context': 'fake',
        clusters: [{ name: 'fake', cluster: { server } }],
        users: [{ name: 'agent', user: { token: 'fake-token' } }],
        contexts: [{ name: 'fake', context: { cluster: 'fake', user: 'agent' } }],
      }),
    );
    const moduleLog = join(dir, 'daemon.txt');
    const args = ['--node-name', NODE_NAME, '--kubeconfig', kubeconfig, '--metrics-addr', '127.0.0.1:0', '--provider', 'alibaba', '--alibaba-tags', '--endpoint', emulator.emu.endpoint(emulator.vm)];
    const agent = startAgent(args, moduleLog);
    try {
      await Promise.race([api.firstStatusWrite, agent.exited.then((code) => Promise.reject(new Error(`the agent exited (${code}) before writing a status:\n${agent.output()}`)))]);
      // The default ACK tags include a key holding "/": read whole, through its directory.
      expect(api.statusWrites[0]).toMatchObject({ provider: 'alibaba', tags: expect.arrayContaining([{ name: 'ack.alibabacloud.com/nodepool-id', value: expect.stringMatching(/^np/) }]) });
    } finally {
      agent.stop();
      await api.close();
    }
    expect(await agent.exited).toBe(0);
    expectNoClientNode(await recordedModules(moduleLog));
    expectLean(await recordedModules(moduleLog));
  });
});
