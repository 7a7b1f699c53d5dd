import { afterEach, describe, expect, it } from '@jest/globals';
import { Counter, Registry } from 'prom-client';
import { startHealthServer, type HealthServer } from '../../../src/observability/health-server.js';

describe('health server', () => {
  let server: HealthServer | undefined;
  afterEach(async () => server?.close());

  it('answers ok while checks pass, 503 with the reasons when one fails, and serves metrics', async () => {
    const registry = new Registry();
    new Counter({ name: 'nodemeta_test_total', help: 'test', registers: [registry] }).inc(3);
    let ready = false;
    server = await startHealthServer({
      host: '127.0.0.1',
      port: 0,
      registry,
      liveness: [{ name: 'loop', check: () => undefined }],
      readiness: [{ name: 'cache', check: () => (ready ? undefined : 'not synced yet') }],
    });
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
    const notReady = await fetch(`${server.url}/readyz`);
    expect(notReady.status).toBe(503);
    expect(await notReady.text()).toContain('cache: not synced yet');
    ready = true;
    expect((await fetch(`${server.url}/readyz`)).status).toBe(200);
    const metrics = await fetch(`${server.url}/metrics`);
    expect(metrics.headers.get('content-type')).toContain('text/plain');
    expect(await metrics.text()).toContain('nodemeta_test_total 3');
    expect((await fetch(`${server.url}/nope`)).status).toBe(404);
    expect((await fetch(`${server.url}/healthz`, { method: 'POST' })).status).toBe(405);
  });
});
