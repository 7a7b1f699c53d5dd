import type { EventsSnapshot, InstanceSnapshot } from '../../../api/observation.js';
import { MetadataError } from '../../http/errors.js';
import { DEFAULT_RETRY_POLICY, withRetries, type RetryPolicy } from '../../http/retry.js';
import { httpError, MetadataTransport, type HttpMethod, type TransportResponse } from '../../http/transport.js';
import type { Logger } from '../../../observability/logger.js';
import type { Random } from '../../../time/backoff.js';
import type { Clock } from '../../../time/clock.js';
import { DEFAULT_OPERATION_TIMEOUT_MS, type ClientOptions } from '../call-options.js';
import type { MetadataProvider } from '../provider.js';
import { parseJsonPayload, PayloadError } from '../validation.js';
import { normalizeAzureCompute } from './normalize.js';
import { normalizeAzureScheduledEvents } from './scheduled-events.js';

export const AZURE_DEFAULT_ENDPOINT = 'http://169.254.169.254';

/**
 * Pinned api-versions. Instance 2021-10-01: the first with platformSubFaultDomain, and after
 * tagsList (2019-06-04), priority and evictionPolicy (2020-12-01). Scheduled events 2020-07-01.
 * When the service answers 400 with `newest-versions` (a version it does not serve), the client
 * falls back once to the newest version it lists and keeps that for the life of the process.
 */
export const AZURE_API_VERSIONS = { instance: '2021-10-01', scheduledEvents: '2020-07-01' } as const;

/** "The first request enables scheduled events and may take up to 2 minutes to answer." */
export const FIRST_EVENTS_TIMEOUT_MS = 125_000;
/** Scheduled events switch themselves off after 24 h without requests; then the first call is slow again. */
const EVENTS_IDLE_RESET_MS = 23 * 60 * 60 * 1000;

type Category = keyof typeof AZURE_API_VERSIONS;

const SERVICE = 'azure';

export interface AzureClientOptions extends ClientOptions {
  apiVersions?: { instance?: string; scheduledEvents?: string };
}

interface CallSpec<T> {
  category: Category;
  method: HttpMethod;
  path: string;
  format?: 'json' | 'text';
  body?: string;
  timeoutMs?: number;
  operationTimeoutMs?: number;
  signal?: AbortSignal;
  parse: (res: TransportResponse) => T;
}

/**
 * Azure Instance Metadata Service: `Metadata: true` on every request, never X-Forwarded-For, never
 * a proxy, one shared request budget, retries per ../../http/retry.ts. Reads only
 * `/metadata/instance/compute` (picked field by field, see normalize.ts) and
 * `/metadata/scheduledevents`; never userData, publicKeys, identity or attested.
 */
export class AzureMetadataClient implements MetadataProvider {
  readonly name = 'azure' as const;
  private readonly transport: MetadataTransport;
  private readonly clock: Clock;
  private readonly random: Random;
  private readonly logger: Logger;
  private readonly retry: RetryPolicy;
  private readonly operationTimeoutMs: number;
  private readonly versions: Record<Category, string>;
  /** `compute.name`, how scheduled events name this VM; read once and kept. */
  private vmName: string | undefined;
  private lastEventsSuccess: number | undefined;

  constructor(options: AzureClientOptions) {
    this.clock = options.clock;
    this.random = options.random;
    this.logger = options.logger;
    this.retry = options.retry ?? DEFAULT_RETRY_POLICY;
    this.operationTimeoutMs = options.operationTimeoutMs ?? DEFAULT_OPERATION_TIMEOUT_MS;
    this.versions = {
      instance: options.apiVersions?.instance ?? AZURE_API_VERSIONS.instance,
      scheduledEvents: options.apiVersions?.scheduledEvents ?? AZURE_API_VERSIONS.scheduledEvents,
    };
    this.transport = new MetadataTransport({
      service: SERVICE,
      baseUrl: options.endpoint ?? AZURE_DEFAULT_ENDPOINT,
      budget: options.budget,
      clock: options.clock,
      connectTimeoutMs: options.connectTimeoutMs,
      requestTimeoutMs: options.requestTimeoutMs,
      onResponse: options.onResponse,
    });
  }

  /** The api-versions in use (after any fallback). */
  apiVersions(): Readonly<Record<Category, string>> {
    return { ...this.versions };
  }

  async readInstance(signal?: AbortSignal): Promise<InstanceSnapshot> {
    const { snapshot, vmName } = await this.call({
      category: 'instance',
      method: 'GET',
      path: '/metadata/instance/compute',
      signal,
      parse: (res) => normalizeAzureCompute(parseJsonPayload(res.text)),
    });
    this.vmName = vmName;
    return snapshot;
  }

  async readEvents(signal?: AbortSignal): Promise<EventsSnapshot> {
    const vmName = await this.ownName(signal);
    const now = this.clock.now();
    const cold = this.lastEventsSuccess === undefined || now - this.lastEventsSuccess > EVENTS_IDLE_RESET_MS;
    const snapshot = await this.call({
      category: 'scheduledEvents',
      method: 'GET',
      path: '/metadata/scheduledevents',
      signal,
      ...(cold ? { timeoutMs: FIRST_EVENTS_TIMEOUT_MS, operationTimeoutMs: Math.max(this.operationTimeoutMs, FIRST_EVENTS_TIMEOUT_MS + 5_000) } : {}),
      parse: (res) => normalizeAzureScheduledEvents(parseJsonPayload(res.text), vmName),
    });
    this.lastEventsSuccess = this.clock.now();
    return snapshot;
  }

  /**
   * Starts a scheduled event now (StartRequests). Approval releases the event for every VM in its
   * Resources, so the controller asks only once all of them are drained.
   */
  async approve(eventId: string, signal?: AbortSignal): Promise<void> {
    if (!/^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/.test(eventId)) {
      throw new MetadataError({ kind: 'unsupported', service: SERVICE, detail: 'event id must be 1-128 letters, digits, ".", "_", ":" or "-"' });
    }
    await this.call({
      category: 'scheduledEvents',
      method: 'POST',
      path: '/metadata/scheduledevents',
      body: JSON.stringify({ StartRequests: [{ EventId: eventId }] }),
      signal,
      parse: () => undefined,
    });
  }

  async close(): Promise<void> {
    await this.transport.close();
  }

  private async ownName(signal?: AbortSignal): Promise<string> {
    if (this.vmName !== undefined) return this.vmName;
    // A leaf must be asked for as text; this reads the name alone, nothing else of the document.
    const name = await this.call({
      category: 'instance',
      method: 'GET',
      path: '/metadata/instance/compute/name',
      format: 'text',
      signal,
      parse: (res) => res.text.trim(),
    });
    if (name === '' || name.length > 256) {
      throw new MetadataError({ kind: 'malformed', service: SERVICE, path: '/metadata/instance/compute/name', detail: 'compute.name is empty: cannot tell which scheduled events concern this VM' });
    }
    this.vmName = name;
    return name;
  }

  private async call<T>(spec: CallSpec<T>): Promise<T> {
    const deadline = this.clock.now() + (spec.operationTimeoutMs ?? this.operationTimeoutMs);
    let fellBack = false;
    const send = (): Promise<TransportResponse> =>
      this.transport.send({
        method: spec.method,
        path: spec.path,
        query: this.query(spec),
        // Required by IMDS; requests without it are refused (400). No X-Forwarded-For, ever.
        headers: { Metadata: 'true' },
        body: spec.body,
        timeoutMs: spec.timeoutMs,
        signal: spec.signal,
        deadline,
      });
    return withRetries(
      async () => {
        let res = await send();
        if (res.status === 400 && !fellBack) {
          const fallback = this.fallbackVersion(spec, res);
          if (fallback !== undefined) {
            fellBack = true;
            this.logger.warn('azure IMDS refused the pinned api-version; falling back', {
              path: spec.path,
              from: this.versions[spec.category],
              to: fallback,
            });
            this.versions[spec.category] = fallback;
            res = await send();
          }
        }
        if (res.status < 200 || res.status > 299) throw httpError(SERVICE, spec.method, spec.path, res, this.query(spec));
        try {
          return spec.parse(res);
        } catch (err) {
          if (err instanceof PayloadError) {
            throw new MetadataError({ kind: 'malformed', service: SERVICE, method: spec.method, path: spec.path, detail: err.message });
          }
          throw err;
        }
      },
      {
        policy: this.retry,
        clock: this.clock,
        random: this.random,
        signal: spec.signal,
        deadline,
        onRetry: ({ attempt, delayMs, error }) =>
          this.logger.warn('azure IMDS request failed; retrying', { path: spec.path, attempt, delayMs, error: error.message }),
      },
    );
  }

  private query(spec: CallSpec<unknown>): Record<string, string> {
    const query: Record<string, string> = { 'api-version': this.versions[spec.category] };
    if (spec.format === 'text') query.format = 'text';
    return query;
  }

  /** The newest version the service lists in its 400 answer, when it differs from the one refused. */
  private fallbackVersion(spec: CallSpec<unknown>, res: TransportResponse): string | undefined {
    const listed = httpError(SERVICE, spec.method, spec.path, res).newestVersions;
    if (!listed) return undefined;
    const newest = [...listed].sort().reverse()[0];
    return newest !== undefined && newest !== this.versions[spec.category] ? newest : undefined;
  }
}
