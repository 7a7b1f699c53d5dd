import type { EventsSnapshot, InstanceSnapshot, Tag } from '../../../api/observation.js';
import type { Logger } from '../../../observability/logger.js';
import type { Random } from '../../../time/backoff.js';
import type { Clock } from '../../../time/clock.js';
import { MetadataError } from '../../http/errors.js';
import { DEFAULT_RETRY_POLICY, withRetries, type RetryPolicy } from '../../http/retry.js';
import { httpError, MetadataTransport } from '../../http/transport.js';
import { DEFAULT_OPERATION_TIMEOUT_MS, type ClientOptions } from '../call-options.js';
import type { MetadataProvider } from '../provider.js';
import { PayloadError, Warnings } from '../validation.js';
import { ALIBABA_ITEMS, instanceSnapshot, normalizeAlibabaInstance, normalizeAlibabaTags, parseSpotTerminationTime, type AlibabaItem } from './normalize.js';
import { parseAlibabaSystemEvents } from './system-events.js';
import { listTagKeys, tagItemPath } from './tag-keys.js';
import { DEFAULT_TOKEN_TTL_SECONDS, MetadataTokenSource, TOKEN_HEADER } from './token.js';

export const ALIBABA_DEFAULT_ENDPOINT = 'http://100.100.100.200';

/**
 * hardened (default): every GET carries a session token (Alibaba's recommended mode, and the only one
 * an instance owner may allow). normal: plain GETs authenticated by source address; only on request.
 */
export type AlibabaAccessMode = 'hardened' | 'normal';

export interface AlibabaClientOptions extends ClientOptions {
  mode?: AlibabaAccessMode;
  /**
   * Read instance tags (one request per tag, and per directory of the keys holding "/"). Off by
   * default; a 404 listing means "not exposed".
   */
  readTags?: boolean;
  tokenTtlSeconds?: number;
}

const SERVICE = 'alibaba';
const META = '/latest/meta-data';
export const SPOT_TERMINATION_PATH = `${META}/instance/spot/termination-time`;
export const SYSTEM_EVENTS_PATH = '/latest/maintenance/active-system-events';
export const TAGS_PATH = `${META}/tags/instance/`;

interface GetOptions {
  signal?: AbortSignal;
  deadline: number;
  /** 404 means "no such item" here: answer undefined instead of failing. */
  notFoundIsAbsent?: boolean;
}

/**
 * Alibaba Cloud ECS metadata service. Reads the instance items, spot termination time, active system
 * events and (when enabled) instance tags; never `ram/security-credentials`, `public-keys` or
 * `user-data`. Requests go one after another, so a slow read (tags) never holds more than one slot of
 * the shared budget and the fast events poll interleaves with it.
 */
export class AlibabaMetadataClient implements MetadataProvider {
  readonly name = 'alibaba' as const;
  readonly mode: AlibabaAccessMode;
  private readonly transport: MetadataTransport;
  private readonly tokens: MetadataTokenSource | undefined;
  private readonly clock: Clock;
  private readonly random: Random;
  private readonly logger: Logger;
  private readonly retry: RetryPolicy;
  private readonly operationTimeoutMs: number;
  private readonly readTags: boolean;

  constructor(options: AlibabaClientOptions) {
    this.mode = options.mode ?? 'hardened';
    this.clock = options.clock;
    this.random = options.random;
    this.logger = options.logger;
    this.retry = options.retry ?? DEFAULT_RETRY_POLICY;
    this.operationTimeoutMs = options.operationTimeoutMs ?? DEFAULT_OPERATION_TIMEOUT_MS;
    this.readTags = options.readTags ?? false;
    this.transport = new MetadataTransport({
      service: SERVICE,
      baseUrl: options.endpoint ?? ALIBABA_DEFAULT_ENDPOINT,
      budget: options.budget,
      clock: options.clock,
      connectTimeoutMs: options.connectTimeoutMs,
      requestTimeoutMs: options.requestTimeoutMs,
      onResponse: options.onResponse,
    });
    this.tokens = this.mode === 'hardened' ? new MetadataTokenSource(this.transport, this.clock, options.tokenTtlSeconds ?? DEFAULT_TOKEN_TTL_SECONDS) : undefined;
  }

  async readInstance(signal?: AbortSignal): Promise<InstanceSnapshot> {
    const deadline = this.clock.now() + this.operationTimeoutMs;
    const w = new Warnings();
    const items: Partial<Record<AlibabaItem, string>> = {};
    for (const item of ALIBABA_ITEMS) {
      const value = await this.get(`${META}/${item}`, { signal, deadline, notFoundIsAbsent: true });
      if (value !== undefined) items[item] = value;
    }
    const instance = normalizeAlibabaInstance(items, w);
    if (instance.id === undefined) {
      throw new MetadataError({ kind: 'malformed', service: SERVICE, path: `${META}/instance-id`, detail: 'no instance-id: this does not look like an ECS metadata service' });
    }
    const tags = this.readTags ? await this.tagsOf(w, signal, deadline) : undefined;
    return instanceSnapshot(instance, tags, w);
  }

  async readEvents(signal?: AbortSignal): Promise<EventsSnapshot> {
    const deadline = this.clock.now() + this.operationTimeoutMs;
    const w = new Warnings();
    // Spot first: reclamation comes about 5 minutes after it is announced.
    const termination = await this.get(SPOT_TERMINATION_PATH, { signal, deadline, notFoundIsAbsent: true });
    const terminationTime = termination === undefined ? undefined : parseSpotTerminationTime(termination, w);
    // 404: no system events right now.
    const { events, raw } = (await this.getParsed(SYSTEM_EVENTS_PATH, { signal, deadline, notFoundIsAbsent: true }, (text) => parseAlibabaSystemEvents(text, w))) ?? { events: [], raw: undefined };
    const snapshot: EventsSnapshot = { events, spot: terminationTime === undefined ? undefined : { terminationTime } };
    if (raw !== undefined) snapshot.rawSystemEvents = raw;
    const warnings = w.result();
    if (warnings) snapshot.warnings = warnings;
    return snapshot;
  }

  async approve(_eventId: string): Promise<void> {
    throw new MetadataError({ kind: 'unsupported', service: SERVICE, detail: 'the ECS metadata service has no way to start a system event early' });
  }

  async close(): Promise<void> {
    await this.transport.close();
  }

  /**
   * Tags exposed in metadata; undefined when the owner has not enabled them (404). A key holding "/"
   * is a path below tags/instance/ (tag-keys.ts): its directories are listed before its value is read.
   */
  private async tagsOf(w: Warnings, signal: AbortSignal | undefined, deadline: number): Promise<Tag[] | undefined> {
    const options = { signal, deadline, notFoundIsAbsent: true };
    const listing = await this.get(TAGS_PATH, options);
    if (listing === undefined) return undefined;
    const keys = await listTagKeys(listing, (dir) => this.get(tagItemPath(TAGS_PATH, dir), options), w);
    const values: [string, string | undefined][] = [];
    for (const key of keys) values.push([key, await this.get(tagItemPath(TAGS_PATH, key), options)]);
    return normalizeAlibabaTags(values, w);
  }

  private get(path: string, options: GetOptions): Promise<string | undefined> {
    return this.getParsed(path, options, (text) => text);
  }

  /** One GET with retries (and, in hardened mode, one token renewal on 401), parsed inside the attempt. */
  private async getParsed<T>(path: string, options: GetOptions, parse: (text: string) => T): Promise<T | undefined> {
    return withRetries(
      async () => {
        let res = await this.send(path, options);
        if (res.status === 401 && this.tokens) {
          // The token expired or was revoked: forget it, get a new one, ask once more.
          this.tokens.invalidate();
          res = await this.send(path, options);
        }
        if (res.status === 404 && options.notFoundIsAbsent) return undefined;
        if (res.status < 200 || res.status > 299) throw this.explain(httpError(SERVICE, 'GET', path, res));
        try {
          return parse(res.text);
        } catch (err) {
          if (err instanceof PayloadError) throw new MetadataError({ kind: 'malformed', service: SERVICE, method: 'GET', path, detail: err.message });
          throw err;
        }
      },
      {
        policy: this.retry,
        clock: this.clock,
        random: this.random,
        signal: options.signal,
        deadline: options.deadline,
        onRetry: ({ attempt, delayMs, error }) => this.logger.warn('alibaba metadata request failed; retrying', { path, attempt, delayMs, error: error.message }),
      },
    );
  }

  private async send(path: string, options: GetOptions) {
    // No X-Forwarded-For, ever: the service refuses tokens to proxied requests.
    const headers: Record<string, string> = {};
    if (this.tokens) headers[TOKEN_HEADER] = await this.tokens.get({ signal: options.signal, deadline: options.deadline });
    return this.transport.send({ method: 'GET', path, headers, signal: options.signal, deadline: options.deadline });
  }

  /** Adds what a person needs to fix a 401/403 to the error. */
  private explain(err: MetadataError): MetadataError {
    if (err.status === 403 && this.mode === 'normal') {
      return new MetadataError({ kind: 'http', service: SERVICE, method: err.method, path: err.path, status: 403, detail: `${err.detail} (normal mode refused: the instance may allow hardened mode only; use --alibaba-mode hardened)` });
    }
    if (err.status === 401) {
      return new MetadataError({ kind: 'http', service: SERVICE, method: err.method, path: err.path, status: 401, detail: `${err.detail} (even with a fresh token)` });
    }
    return err;
  }
}
