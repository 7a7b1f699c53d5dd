import { afterEach, beforeEach, describe, expect, it, jest } from '@jest/globals';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run } from '../../../src/cmd/controller.js';

describe('nodemeta controller flags', () => {
  let errors: string[];
  beforeEach(() => {
    errors = [];
    jest.spyOn(console, 'error').mockImplementation((...args: unknown[]) => void errors.push(args.join(' ')));
    jest.spyOn(console, 'log').mockImplementation(() => undefined);
  });
  afterEach(() => {
    jest.restoreAllMocks();
  });

  it('prints help and exits 0', async () => {
    expect(await run(['--help'])).toBe(0);
  });

  it.each([
    [['--bogus'], "Unknown option '--bogus'"],
    [[], '--config FILE is required'],
    [['--default-config', '--workers', '0'], '--workers must be a whole number from 1 to 64'],
    [['--default-config', '--metrics-addr', 'localhost'], '--metrics-addr must be [HOST]:PORT'],
    [['--default-config', '--lease-duration', '5s'], '--lease-duration must be longer than --renew-deadline'],
    [['--default-config', '--log-level', 'loud'], '--log-level must be'],
    [['--default-config', '--kube-api-qps', '0'], '--kube-api-qps must be a number above 0'],
    [['--default-config', '--kube-api-qps', 'fast'], '--kube-api-qps must be a number above 0'],
    [['--default-config', '--kube-api-burst', '2.5'], '--kube-api-burst must be a whole number from 1'],
    [['--default-config', '--cordon-workers', '0'], '--cordon-workers must be a whole number from 1 to 256'],
    [['--default-config', '--max-concurrent-evictions', '0'], '--max-concurrent-evictions must be a whole number from 1'],
    [['--cleanup', '--dry-run'], '--cleanup has no dry run'],
  ])('rejects %j with one clear line and exit 2', async (argv, message) => {
    expect(await run(argv)).toBe(2);
    expect(errors.join('\n')).toContain(message);
  });

  it('rejects an invalid configuration file at start, naming the field', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'nodemeta-cli-'));
    const file = join(dir, 'config.yaml');
    writeFileSync(file, 'policy:\n  Reboot:\n    action: Explode\n');
    expect(await run(['--config', file, '--kubeconfig', '/nonexistent'])).toBe(2);
    expect(errors[0]).toContain('policy.Reboot.action: must be one of Drain, Cordon, Taint, None');
  });

  it('reports a kubeconfig that cannot be read with exit 2', async () => {
    expect(await run(['--default-config', '--kubeconfig', '/nonexistent/kubeconfig'])).toBe(2);
    expect(errors[0]).toContain('nodemeta controller:');
  });
});
