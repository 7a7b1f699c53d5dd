import { mkdtempSync, renameSync, rmSync, symlinkSync, unlinkSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, test } from '@jest/globals';
import { ConfigWatcher, type ConfigReload } from '../../../src/controller/config/config-watcher.js';
import { unrefSystemClock } from '../../../src/time/clock.js';
import { FakeClock } from '../runtime/fake-clock.js';

const dirs: string[] = [];
const watchers: ConfigWatcher[] = [];
afterEach(() => {
  for (const watcher of watchers.splice(0)) watcher.stop();
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'nodemeta-config-'));
  dirs.push(dir);
  return dir;
}

function newWatcher(path: string, options: { clock?: FakeClock | typeof unrefSystemClock; useFsWatch?: boolean; pollIntervalMs?: number; debounceMs?: number } = {}) {
  const reloads: ConfigReload[] = [];
  const watcher = new ConfigWatcher({
    path,
    clock: options.clock ?? new FakeClock(),
    onReload: (reload) => reloads.push(reload),
    useFsWatch: options.useFsWatch ?? false,
    pollIntervalMs: options.pollIntervalMs ?? 1000,
    debounceMs: options.debounceMs ?? 20,
  });
  watchers.push(watcher);
  return { watcher, reloads };
}

async function eventually(check: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe('ConfigWatcher', () => {
  test('start loads the file; start fails on an invalid first file', async () => {
    const dir = tempDir();
    const path = join(dir, 'config.yaml');
    writeFileSync(path, 'approve: Never\n');
    const { watcher } = newWatcher(path);
    expect((await watcher.start()).approve).toBe('Never');

    writeFileSync(path, 'approve: Sometimes\n');
    const { watcher: second } = newWatcher(path);
    await expect(second.start()).rejects.toThrow(/approve: must be one of AfterDrain, Never/);
    await expect(newWatcher(join(dir, 'missing.yaml')).watcher.start()).rejects.toThrow(/ENOENT/);
  });

  test('a valid change is applied; an invalid one is reported and the last good config stays', async () => {
    const path = join(tempDir(), 'config.yaml');
    writeFileSync(path, 'approve: Never\n');
    const { watcher, reloads } = newWatcher(path);
    await watcher.start();

    writeFileSync(path, 'approve: AfterDrain\n');
    await watcher.reload();
    expect(reloads).toEqual([{ ok: true, config: expect.objectContaining({ approve: 'AfterDrain' }) }]);

    writeFileSync(path, 'policy:\n  Reboot: {action: Drian}\n');
    await watcher.reload();
    expect(reloads[1]).toEqual({ ok: false, errors: [expect.stringContaining('policy.Reboot.action')], current: expect.objectContaining({ approve: 'AfterDrain' }) });
    expect(watcher.config().approve).toBe('AfterDrain');
    expect(watcher.config().policy.events.Reboot.action).toBe('Drain');

    // The same bad text again is not reported again.
    await watcher.reload();
    expect(reloads).toHaveLength(2);
  });

  test('atDeadline: Delete for Freeze is refused: the last good configuration stays, nothing of the new one applies', async () => {
    const path = join(tempDir(), 'config.yaml');
    writeFileSync(path, 'approve: Never\n');
    const { watcher, reloads } = newWatcher(path);
    await watcher.start();
    writeFileSync(path, 'approve: AfterDrain\npolicy:\n  Reboot: {atDeadline: Delete}\n  Freeze: {action: Drain, atDeadline: Delete}\n');
    await watcher.reload();
    expect(reloads).toEqual([{ ok: false, errors: [expect.stringMatching(/^policy\.Freeze\.atDeadline: Delete is not allowed for Freeze/)], current: expect.objectContaining({ approve: 'Never' }) }]);
    expect(watcher.config().approve).toBe('Never');
    expect(watcher.config().policy.events.Reboot.atDeadline).toBe('Wait');
    expect(watcher.config().policy.events.Freeze.action).toBe('Taint');
  });

  test('an unchanged file reports nothing', async () => {
    const path = join(tempDir(), 'config.yaml');
    writeFileSync(path, '{}\n');
    const { watcher, reloads } = newWatcher(path);
    await watcher.start();
    await watcher.reload();
    await watcher.reload();
    expect(reloads).toEqual([]);
  });

  test('a file that disappears keeps the last good config and is reported once', async () => {
    const path = join(tempDir(), 'config.yaml');
    writeFileSync(path, 'approve: Never\n');
    const { watcher, reloads } = newWatcher(path);
    await watcher.start();
    unlinkSync(path);
    await watcher.reload();
    await watcher.reload();
    expect(reloads).toHaveLength(1);
    expect(reloads[0]).toMatchObject({ ok: false, errors: [expect.stringMatching(/cannot read .*ENOENT/)] });
    expect(watcher.config().approve).toBe('Never');
    writeFileSync(path, 'approve: Never\n');
    await watcher.reload();
    expect(reloads[1]).toMatchObject({ ok: true });
  });

  test('polls the file on the injected clock', async () => {
    const path = join(tempDir(), 'config.yaml');
    writeFileSync(path, 'approve: Never\n');
    const clock = new FakeClock();
    const { watcher, reloads } = newWatcher(path, { clock, pollIntervalMs: 1000 });
    await watcher.start();
    writeFileSync(path, 'approve: AfterDrain\n');
    clock.advance(999);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(reloads).toHaveLength(0);
    clock.advance(1);
    await eventually(() => reloads.length === 1);
    expect(watcher.config().approve).toBe('AfterDrain');
  });

  test('follows a ConfigMap-style symlink swap through the directory watch', async () => {
    const dir = tempDir();
    const writeVersion = (name: string, text: string) => {
      mkdirSync(join(dir, name));
      writeFileSync(join(dir, name, 'config.yaml'), text);
      symlinkSync(name, join(dir, '..data_tmp'));
      renameSync(join(dir, '..data_tmp'), join(dir, '..data'));
    };
    writeVersion('..v1', 'approve: Never\n');
    symlinkSync(join('..data', 'config.yaml'), join(dir, 'config.yaml'));

    const { watcher, reloads } = newWatcher(join(dir, 'config.yaml'), { clock: unrefSystemClock, useFsWatch: true, pollIntervalMs: 60_000 });
    expect((await watcher.start()).approve).toBe('Never');
    writeVersion('..v2', 'approve: AfterDrain\n');
    await eventually(() => reloads.length > 0);
    expect(watcher.config().approve).toBe('AfterDrain');
  });
});
