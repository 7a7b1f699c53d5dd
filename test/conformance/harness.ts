// Shared by the conformance tests: an in-process emulator on 127.0.0.1 with a hand-driven clock,
// and plain HTTP through node's fetch (never a nodemeta client).

import { request as httpRequest } from 'node:http';
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
  /**
   * A GET whose request target goes out exactly as written (fetch would drop a "#..." suffix and
   * resolve "..", as a browser does; a plain HTTP client such as Ohai's sends them).
   */
  callRaw(target: string, headers?: Record<string, string>): Promise<Answer>;
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

function rawRequest(url: string, target: string, headers: Record<string, string> = {}): Promise<Answer> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: hostname, port, path: target, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        const answerHeaders = new Headers();
        for (const [name, value] of Object.entries(res.headers)) if (typeof value === 'string') answerHeaders.set(name, value);
        resolve({ status: res.statusCode ?? 0, headers: answerHeaders, text, json: <T>() => JSON.parse(text) as T });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
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
    callRaw: (target, headers) => rawRequest(emulator.url, target, headers),
    control: (method, path, body) =>
      call(`/_emulator${path}`, {
        method,
        headers: { 'Content-Type': 'application/json' },
        ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
      }),
    close: () => emulator.close(),
  };
}
