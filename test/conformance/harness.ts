// Shared by the conformance tests: an in-process emulator on 127.0.0.1 with a hand-driven clock,
// and plain HTTP through node's fetch (never a nodemeta client).

import { ManualClock } from '../../src/emulator/clock.js';
import { type EmulatorOptions, type RunningEmulator, startEmulator } from '../../src/emulator/emulator.js';

export interface Answer {
  status: number;
  headers: Headers;
  text: string;
  json<T = unknown>(): T;
}

export interface Harness {
  emulator: RunningEmulator;
  clock: ManualClock;
  url: string;
  /** A request to the emulator, path relative to its root. */
  call(path: string, init?: { method?: string; headers?: Record<string, string>; body?: string }): Promise<Answer>;
  /** Control API call with a JSON body. */
  control(method: string, path: string, body?: unknown): Promise<Answer>;
  close(): Promise<void>;
}

export const AZURE_HEADERS = { Metadata: 'true' };

export async function request(
  url: string,
  init: { method?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<Answer> {
  const response = await fetch(url, { method: init.method ?? 'GET', headers: init.headers ?? {}, body: init.body ?? null });
  const text = await response.text();
  return { status: response.status, headers: response.headers, text, json: <T>() => JSON.parse(text) as T };
}

/**
 * Starts an emulator. The rate limit is off unless `settings` turns it on, so tests of other
 * rules are not throttled by their own requests.
 */
export async function startHarness(options: Partial<EmulatorOptions> & Pick<EmulatorOptions, 'provider'>): Promise<Harness> {
  const clock = new ManualClock('2026-11-22T10:00:00Z');
  const emulator = await startEmulator({
    clock,
    tickIntervalMs: 3_600_000,
    ...options,
    settings: { rateLimitPerSecond: 0, ...options.settings },
  });
  const call: Harness['call'] = (path, init) => request(`${emulator.url}${path}`, init);
  return {
    emulator,
    clock,
    url: emulator.url,
    call,
    control: (method, path, body) =>
      call(`/_emulator${path}`, {
        method,
        headers: { 'Content-Type': 'application/json' },
        ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
      }),
    close: () => emulator.close(),
  };
}
