// `nodemeta emulator` as a process (run `make build` first: it spawns dist/cmd/nodemeta.js).

import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { request } from './harness.js';

const BIN = resolve('dist/cmd/nodemeta.js');

interface Exit {
  code: number | null;
  stdout: string;
  stderr: string;
}

function runToExit(args: string[]): Promise<Exit> {
  return new Promise((done) => {
    const child = spawn(process.execPath, [BIN, 'emulator', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => done({ code, stdout, stderr }));
  });
}

/** Starts the emulator and resolves with the parsed "listening" line. */
function startProcess(args: string[]): Promise<{ child: ChildProcess; line: Record<string, unknown>; exited: Promise<Exit> }> {
  return new Promise((ready, fail) => {
    const child = spawn(process.execPath, [BIN, 'emulator', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    const exited = new Promise<Exit>((done) => child.on('close', (code) => done({ code, stdout, stderr })));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
      const newline = stdout.indexOf('\n');
      if (newline !== -1) ready({ child, line: JSON.parse(stdout.slice(0, newline)) as Record<string, unknown>, exited });
    });
    child.on('error', fail);
    void exited.then((e) => fail(new Error(`emulator exited early (${e.code}): ${e.stderr}`)));
  });
}

describe('nodemeta emulator (CLI)', () => {
  let dir: string;
  beforeAll(async () => {
    if (!existsSync(BIN)) throw new Error(`${BIN} is missing: run \`make build\` first`);
    dir = await mkdtemp(join(tmpdir(), 'nodemeta-emulator-cli-'));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('with --port 0 prints the JSON listening line, serves, logs JSON to stderr, and stops cleanly on SIGTERM', async () => {
    const { child, line, exited } = await startProcess(['--provider', 'azure', '--port', '0', '--vms', '2']);
    expect(line).toEqual({
      listening: expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+$/),
      provider: 'azure',
      vms: ['aks-pool1-12345678-vmss000000', 'aks-pool1-12345678-vmss000001'],
    });
    const url = line.listening as string;
    expect((await request(`${url}/_emulator/healthz`)).json()).toEqual({ provider: 'azure' });
    const vmSize = await request(`${url}/metadata/instance/compute/vmSize?api-version=2021-02-01&format=text`, { headers: { Metadata: 'true' } });
    expect(vmSize.text).toBe('Standard_D4s_v5');
    child.kill('SIGTERM');
    const exit = await exited;
    expect(exit.code).toBe(0);
    const logs = exit.stderr.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(logs[0]).toMatchObject({ component: 'emulator', message: 'emulator listening' });
  });

  it('loads a scenario file', async () => {
    const file = join(dir, 'ok.yaml');
    await writeFile(file, 'provider: alibaba\nvms:\n  - name: cn-hangzhou.192.168.3.7\n    instance: {zone-id: cn-hangzhou-k}\n');
    const { child, line, exited } = await startProcess(['--scenario', file]);
    expect(line).toMatchObject({ provider: 'alibaba', vms: ['cn-hangzhou.192.168.3.7'] });
    expect((await request(`${line.listening as string}/latest/meta-data/zone-id`)).text).toBe('cn-hangzhou-k');
    child.kill('SIGINT');
    expect((await exited).code).toBe(0);
  });

  it('exits 2 with a clear one-line error naming the field for an invalid scenario', async () => {
    const file = join(dir, 'bad.yaml');
    await writeFile(file, 'provider: azure\nvms:\n  - name: a\n    instance: {platformFaultDomain: 2}\n');
    const exit = await runToExit(['--scenario', file]);
    expect(exit.code).toBe(2);
    expect(exit.stdout).toBe('');
    expect(exit.stderr.trim().split('\n')).toHaveLength(1);
    expect(exit.stderr).toContain(`invalid scenario ${file}: vms[0].instance.platformFaultDomain: must be a string`);
    const missing = await runToExit(['--provider', 'azure', '--scenario', join(dir, 'nope.yaml')]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('cannot read scenario file');
    const yaml = join(dir, 'broken.yaml');
    await writeFile(yaml, 'vms: [\n');
    const broken = await runToExit(['--provider', 'azure', '--scenario', yaml]);
    expect(broken.code).toBe(2);
    expect(broken.stderr).toContain('not valid YAML');
  });

  it('exits 2 on bad flags', async () => {
    for (const args of [['--provider', 'gcp'], [], ['--provider', 'azure', '--port', 'eighty'], ['--provider', 'azure', '--colour'], ['--provider', 'azure', '--vms', '0']]) {
      const exit = await runToExit(args);
      expect(exit.code).toBe(2);
      expect(exit.stderr).toMatch(/^nodemeta emulator: /);
    }
    // Five processes one after another: on a loaded 2-core machine that is more than jest's 5 s default.
  }, 60_000);

  it('prints usage with --help', async () => {
    const exit = await runToExit(['--help']);
    expect(exit.code).toBe(0);
    expect(exit.stdout).toContain('Usage: nodemeta emulator --provider azure|alibaba');
  });
});
