// `nodemeta agent --once` and `--provider auto` against emulators on 127.0.0.1: the executable as
// users run it (dist/, built by `make test-contract`), and provider detection in-process.
import { spawn } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { systemClock } from '../../src/time/clock.js';
import { MetadataError } from '../../src/agent/http/errors.js';
import { DEFAULT_BUDGET, TokenBucket } from '../../src/agent/http/token-bucket.js';
import { detectProvider } from '../../src/agent/providers/detect.js';
import { silentLogger } from '../../src/observability/logger.js';
import { caught, Harness } from './imds-harness.js';

jest.setTimeout(60_000);

const NODEMETA = join(process.cwd(), 'dist/cmd/nodemeta.js');

function runAgent(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [NODEMETA, 'agent', ...args], { env: { ...process.env, NODE_NAME: '', HTTP_PROXY: 'http://127.0.0.1:9', http_proxy: 'http://127.0.0.1:9' } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

function detect(endpoint: string) {
  return detectProvider({
    endpoint,
    budget: new TokenBucket({ ...DEFAULT_BUDGET, clock: systemClock }),
    clock: systemClock,
    random: Math.random,
    logger: silentLogger(),
    probeTimeoutMs: 500,
  });
}

describe('provider detection and nodemeta agent --once', () => {
  let azure: Harness;
  let alibaba: Harness;
  let plain: Server;
  let plainUrl: string;

  beforeAll(async () => {
    azure = await Harness.start('azure');
    alibaba = await Harness.start('alibaba');
    // Something that is not a metadata service: 200 "hello" to everything.
    plain = createServer((_req, res) => res.end('<html>hello</html>\n'));
    await new Promise<void>((r) => plain.listen(0, '127.0.0.1', r));
    plainUrl = `http://127.0.0.1:${(plain.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await azure.close();
    await alibaba.close();
    await new Promise((r) => plain.close(r));
  });

  it('detects Azure and Alibaba by how they answer', async () => {
    expect(await detect(azure.emu.endpoint(azure.vm))).toBe('azure');
    expect(await detect(alibaba.emu.endpoint(alibaba.vm))).toBe('alibaba');
  });

  it('says clearly when nothing answers like a metadata service', async () => {
    const err = await caught(detect(plainUrl));
    expect(err).toBeInstanceOf(MetadataError);
    expect(err.message).toMatch(/no metadata service answered as Azure IMDS or Alibaba ECS metadata would/);
    const closed = await caught(detect('http://127.0.0.1:9'));
    expect(closed.message).toMatch(/connection refused/);
  });

  it('prints the Azure observation as JSON and exits 0 (proxy variables ignored)', async () => {
    const event = await azure.addEvent({ type: 'Reboot', resources: [azure.vm], notBefore: '+15m', lifecycle: 'manual' });
    const r = await runAgent(['--once', '--endpoint', azure.emu.endpoint(azure.vm)]);
    expect(r.code).toBe(0);
    const observation = JSON.parse(r.stdout) as Record<string, unknown>;
    expect(observation).toMatchObject({ provider: 'azure', instance: { region: 'westeurope' }, events: [{ id: event.id, type: 'Reboot' }] });
    expect(Date.parse(observation.observedTime as string)).toBeGreaterThan(0);
    expect(r.stdout).not.toMatch(/nodemeta-emulator-secret|userData|publicKeys/);
    for (const line of r.stderr.split('\n').filter(Boolean)) expect(() => JSON.parse(line) as unknown).not.toThrow();
  });

  it('prints the Alibaba observation with --provider alibaba --alibaba-tags', async () => {
    await alibaba.control('PATCH', `/vms/${alibaba.vm}`, { tagsEnabled: true, tags: [{ name: 'team', value: 'a:b;c' }] });
    const r = await runAgent(['--once', '--provider', 'alibaba', '--alibaba-tags', '--endpoint', alibaba.emu.endpoint(alibaba.vm)]);
    expect(r.code).toBe(0);
    const observation = JSON.parse(r.stdout) as Record<string, unknown>;
    expect(observation).toMatchObject({ provider: 'alibaba', tags: [{ name: 'team', value: 'a:b;c' }], events: [] });
    expect(r.stdout).not.toMatch(/secret|AccessKey/i);
  });

  it('fails with one clear line and a non-zero exit when the service keeps failing', async () => {
    await azure.fault({ kind: 'status', status: 404, path: '/metadata/instance' });
    try {
      const r = await runAgent(['--once', '--provider', 'azure', '--endpoint', azure.emu.endpoint(azure.vm), '--timeout', '20s']);
      expect(r.code).toBe(1);
      expect(r.stdout).toBe('');
      const last = r.stderr.trim().split('\n').at(-1)!;
      expect(last).toMatch(/^nodemeta agent: azure metadata service GET \/metadata\/instance\/compute\?api-version=[\d-]+: HTTP 404/);
    } finally {
      await azure.clearFaults();
    }
  });

  it('exits 1 with a clear line when nothing answers, 2 on bad usage, 0 on --help', async () => {
    const none = await runAgent(['--once', '--endpoint', plainUrl, '--timeout', '20s']);
    expect(none.code).toBe(1);
    expect(none.stderr).toMatch(/nodemeta agent: provider detection: no metadata service answered/);
    expect((await runAgent(['--once', '--provider', 'gcp'])).code).toBe(2);
    expect((await runAgent(['--once', '--timeout', 'soon'])).code).toBe(2);
    expect((await runAgent(['--once', '--request-timeout', '0s'])).stderr).toMatch(/--request-timeout must be a positive duration/);
    // The long-running mode needs to know its node (downward API): without it, a usage error.
    const noNode = await runAgent([]);
    expect(noNode.code).toBe(2);
    expect(noNode.stderr).toMatch(/node name is needed: set NODE_NAME .* or --node-name/);
    const help = await runAgent(['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/--once[\s\S]*--provider[\s\S]*--endpoint[\s\S]*--alibaba-mode[\s\S]*--alibaba-tags[\s\S]*--timeout[\s\S]*--request-timeout/);
  });
});
