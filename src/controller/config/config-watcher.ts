// Reloads the configuration file when it changes and keeps the last good configuration when a new
// one is invalid, so a typo in a ConfigMap cannot stop the controller or reset it to defaults.
//
// Kubernetes mounts a ConfigMap as a directory of symlinks (`config.yaml -> ..data/config.yaml`,
// `..data -> ..2026_11_22_04_00_00.123`) and updates it by swapping the `..data` symlink, which a
// watch on the file itself never sees. So we watch the directory and re-read the path on any
// event, and also poll, because fs.watch is not reliable on every filesystem (NFS, some overlays).
// Reading the whole file and comparing the text makes both paths idempotent.

import { watch, type FSWatcher } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Clock, TimerHandle } from '../../time/clock.js';
import { parseConfig, type ControllerConfig } from './config.js';

export type ConfigReload =
  | { ok: true; config: ControllerConfig }
  /** The new text is invalid or unreadable; `current` is the last good configuration, still in force. */
  | { ok: false; errors: string[]; current: ControllerConfig };

export interface ConfigWatcherOptions {
  path: string;
  clock: Clock;
  /** Called after each change of the file's text: the new configuration, or why it was rejected. */
  onReload: (reload: ConfigReload) => void;
  /** Re-read the file this often even without a watch event. */
  pollIntervalMs?: number;
  /** Let watch events settle (a ConfigMap update is several renames) before re-reading. */
  debounceMs?: number;
  /** Off in tests that exercise polling alone. */
  useFsWatch?: boolean;
}

export type LoadResult = { ok: true; config: ControllerConfig; text: string } | { ok: false; errors: string[]; text: string | undefined };

export async function loadConfigFile(path: string): Promise<LoadResult> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    return { ok: false, errors: [`cannot read ${path}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`], text: undefined };
  }
  return { ...parseConfig(text), text };
}

export class ConfigWatcher {
  private current: ControllerConfig | undefined;
  /** The last text seen, good or bad, so an unchanged bad file is reported once, not every poll. */
  private lastText: string | undefined;
  private lastReadFailed = false;
  private fsWatcher: FSWatcher | undefined;
  private pollTimer: TimerHandle | undefined;
  private debounceTimer: TimerHandle | undefined;
  private reading: Promise<void> = Promise.resolve();
  private stopped = false;

  constructor(private readonly options: ConfigWatcherOptions) {}

  /**
   * Loads the file and starts watching it. Fails when the first load fails: with no good
   * configuration yet there is nothing to fall back to, and starting on defaults would surprise.
   */
  async start(): Promise<ControllerConfig> {
    const first = await loadConfigFile(this.options.path);
    if (!first.ok) throw new Error(`invalid configuration ${this.options.path}: ${first.errors.join('; ')}`);
    this.current = first.config;
    this.lastText = first.text;
    if (this.options.useFsWatch ?? true) this.startFsWatch();
    this.schedulePoll();
    return first.config;
  }

  /** The configuration in force. */
  config(): ControllerConfig {
    if (this.current === undefined) throw new Error('ConfigWatcher.config() called before start()');
    return this.current;
  }

  stop(): void {
    this.stopped = true;
    this.fsWatcher?.close();
    if (this.pollTimer !== undefined) this.options.clock.clearTimeout(this.pollTimer);
    if (this.debounceTimer !== undefined) this.options.clock.clearTimeout(this.debounceTimer);
  }

  /** Re-reads the file now; resolves once the result has been reported. Reads never overlap. */
  reload(): Promise<void> {
    this.reading = this.reading.then(() => this.readAndReport());
    return this.reading;
  }

  private async readAndReport(): Promise<void> {
    if (this.stopped) return;
    const loaded = await loadConfigFile(this.options.path);
    if (loaded.text === undefined) {
      // A ConfigMap update briefly leaves no file; report a missing file once, keep the old config.
      if (this.lastReadFailed) return;
      this.lastReadFailed = true;
      this.options.onReload({ ok: false, errors: loaded.ok ? [] : loaded.errors, current: this.config() });
      return;
    }
    const recovered = this.lastReadFailed;
    this.lastReadFailed = false;
    if (loaded.text === this.lastText && !recovered) return;
    this.lastText = loaded.text;
    if (loaded.ok) {
      this.current = loaded.config;
      this.options.onReload({ ok: true, config: loaded.config });
    } else {
      this.options.onReload({ ok: false, errors: loaded.errors, current: this.config() });
    }
  }

  private startFsWatch(): void {
    try {
      this.fsWatcher = watch(dirname(this.options.path), { persistent: false }, () => this.debouncedReload());
      // A watch error (directory gone, too many watches) leaves polling in charge.
      this.fsWatcher.on('error', () => this.fsWatcher?.close());
    } catch {
      this.fsWatcher = undefined;
    }
  }

  private debouncedReload(): void {
    if (this.stopped) return;
    if (this.debounceTimer !== undefined) this.options.clock.clearTimeout(this.debounceTimer);
    this.debounceTimer = this.options.clock.setTimeout(() => {
      this.debounceTimer = undefined;
      void this.reload();
    }, this.options.debounceMs ?? 200);
  }

  private schedulePoll(): void {
    if (this.stopped) return;
    this.pollTimer = this.options.clock.setTimeout(() => {
      void this.reload().then(() => this.schedulePoll());
    }, this.options.pollIntervalMs ?? 30_000);
  }
}
