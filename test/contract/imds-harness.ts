// Shared set-up for the metadata-client contract tests: an in-process emulator on 127.0.0.1, its
// control API, and clients built the way the agent builds them (real clock, real HTTP), with a
// faster backoff so fault windows of a second or two are crossed quickly.
import type { ProviderName } from '../../src/api/observation.js';
import { systemClock } from '../../src/time/clock.js';
import { DEFAULT_RETRY_POLICY, type RetryPolicy } from '../../src/agent/http/retry.js';
import { DEFAULT_BUDGET, TokenBucket } from '../../src/agent/http/token-bucket.js';
import { AlibabaMetadataClient, type AlibabaClientOptions } from '../../src/agent/providers/alibaba/client.js';
import { AzureMetadataClient, type AzureClientOptions } from '../../src/agent/providers/azure/client.js';
import { startEmulator, type EmulatorOptions, type RunningEmulator } from '../../src/emulator/emulator.js';
import { silentLogger } from '../../src/observability/logger.js';

export const FAST_RETRY: RetryPolicy = { ...DEFAULT_RETRY_POLICY, backoff: { baseMs: 20, capMs: 300 } };

/**
 * The throttle these tests put on the Alibaba emulator: an assumption (Alibaba publishes no figure
 * and the emulator's default is off), set here so the clients always run against a throttling
 * service. It is above the tests' own budget, so it bites only in the tests that lower it.
 */
export const ASSUMED_ALIBABA_THROTTLE_PER_SECOND = 20;

export interface LoggedRequest {
  time: string;
  method: string;
  path: string;
  query: string;
  headers: Record<string, string>;
  status: number;
}

export class Harness {
  /**
   * One request budget for every client of the test file, as in the agent (one per process): the
   * emulator limits each VM to 5 requests in any sliding second, whichever client sends them.
   */
  readonly sharedBudget: TokenBucket;

  constructor(readonly emu: RunningEmulator) {
    // Azure: the agent's own budget against the emulator's 5/s. Alibaba publishes no figure (these
    // tests assume 20/s): a quicker budget keeps them short without changing what they check.
    const rate = emu.provider === 'azure' ? DEFAULT_BUDGET : { ratePerSecond: 8, burst: 4 };
    this.sharedBudget = new TokenBucket({ ...rate, clock: systemClock });
  }

  static async start(provider: ProviderName, options: Partial<EmulatorOptions> = {}): Promise<Harness> {
    const throttle = provider === 'alibaba' ? { rateLimitPerSecond: ASSUMED_ALIBABA_THROTTLE_PER_SECOND } : {};
    return new Harness(await startEmulator({ provider, vms: 2, ...options, settings: { ...throttle, ...options.settings } }));
  }

  get vm(): string {
    return this.emu.vms[0]!;
  }

  async control(method: string, path: string, body?: unknown): Promise<{ status: number; json: unknown }> {
    const res = await fetch(`${this.emu.url}/_emulator${path}`, {
      method,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, json: text ? (JSON.parse(text) as unknown) : undefined };
  }

  async state(vm = this.vm): Promise<Record<string, unknown>> {
    return (await this.control('GET', `/vms/${encodeURIComponent(vm)}`)).json as Record<string, unknown>;
  }

  async requests(vm = this.vm): Promise<LoggedRequest[]> {
    return (await this.control('GET', `/vms/${encodeURIComponent(vm)}/requests`)).json as LoggedRequest[];
  }

  async clearRequests(vm = this.vm): Promise<void> {
    await this.control('DELETE', `/vms/${encodeURIComponent(vm)}/requests`);
  }

  async fault(spec: Record<string, unknown>): Promise<string> {
    const res = await this.control('POST', '/faults', { vm: this.vm, ...spec });
    if (res.status !== 201) throw new Error(`fault refused: ${JSON.stringify(res.json)}`);
    return (res.json as { id: string }).id;
  }

  async clearFaults(): Promise<void> {
    await this.control('DELETE', '/faults');
  }

  /** Adds an event through the control API; answers it with its id (`EventId` / `Id` natively). */
  async addEvent(spec: Record<string, unknown>): Promise<Record<string, unknown> & { id: string }> {
    const res = await this.control('POST', '/events', spec);
    if (res.status !== 201) throw new Error(`event refused: ${JSON.stringify(res.json)}`);
    const event = res.json as Record<string, unknown>;
    const id = event.id ?? event.EventId ?? event.Id;
    if (typeof id !== 'string') throw new Error(`event without an id: ${JSON.stringify(event)}`);
    return { ...event, id };
  }

  budget(): TokenBucket {
    return this.sharedBudget;
  }

  azure(options: Partial<AzureClientOptions> = {}, vm = this.vm): AzureMetadataClient {
    return new AzureMetadataClient({
      endpoint: this.emu.endpoint(vm),
      budget: this.budget(),
      clock: systemClock,
      random: Math.random,
      logger: silentLogger(),
      retry: FAST_RETRY,
      ...options,
    });
  }

  alibaba(options: Partial<AlibabaClientOptions> = {}, vm = this.vm): AlibabaMetadataClient {
    return new AlibabaMetadataClient({
      endpoint: this.emu.endpoint(vm),
      budget: this.budget(),
      clock: systemClock,
      random: Math.random,
      logger: silentLogger(),
      retry: FAST_RETRY,
      ...options,
    });
  }

  async close(): Promise<void> {
    await this.emu.close();
  }
}

/** Every string value found anywhere in a JSON value (to look for the emulator's fake secrets). */
export function stringsIn(value: unknown, out: string[] = []): string[] {
  if (typeof value === 'string') out.push(value);
  else if (Array.isArray(value)) for (const v of value) stringsIn(v, out);
  else if (value && typeof value === 'object') for (const v of Object.values(value)) stringsIn(v, out);
  return out;
}

export async function caught(promise: Promise<unknown>): Promise<Error & Record<string, unknown>> {
  try {
    await promise;
  } catch (err) {
    return err as Error & Record<string, unknown>;
  }
  throw new Error('expected a rejection');
}
