// /healthz (the process is alive and its loops turn), /readyz (it can do its job now) and
// /metrics (Prometheus text) on one small HTTP server per process.

import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';

// Not `import { createServer } from 'node:http'`: an ES import of node:http reads every export for
// the module namespace, and its WebSocket getters load Node's bundled undici, HTTP/2, zlib and web
// streams: 4 MiB of the agent's RSS (docs/scaling.md), which serves this on every node.
const { createServer } = process.getBuiltinModule('node:http');

export interface HealthCheck {
  name: string;
  /** Returns undefined when healthy, or why not. */
  check(): string | undefined;
}

export interface HealthServerOptions {
  host?: string;
  port: number;
  registry: Registry;
  liveness?: HealthCheck[];
  readiness?: HealthCheck[];
}

export interface HealthServer {
  url: string;
  close(): Promise<void>;
}

export async function startHealthServer(options: HealthServerOptions): Promise<HealthServer> {
  const report = (checks: HealthCheck[] = []) => {
    const failures = checks.flatMap((c) => {
      const reason = c.check();
      return reason === undefined ? [] : [`${c.name}: ${reason}`];
    });
    return failures.length === 0 ? { status: 200, body: 'ok\n' } : { status: 503, body: failures.join('\n') + '\n' };
  };
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    if (path === '/healthz' || path === '/readyz') {
      const { status, body } = report(path === '/healthz' ? options.liveness : options.readiness);
      res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8' }).end(body);
      return;
    }
    if (path === '/metrics') {
      options.registry.metrics().then(
        (text) => res.writeHead(200, { 'content-type': options.registry.contentType }).end(text),
        (err: Error) => res.writeHead(500, { 'content-type': 'text/plain' }).end(`${err.message}\n`),
      );
      return;
    }
    res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host ?? '0.0.0.0', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const host = options.host && options.host !== '0.0.0.0' ? options.host : '127.0.0.1';
  return {
    url: `http://${host}:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
