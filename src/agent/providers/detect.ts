import type { ProviderName } from '../../api/observation.js';
import type { Logger } from '../../observability/logger.js';
import type { Random } from '../../time/backoff.js';
import type { Clock } from '../../time/clock.js';
import { MetadataError, isMetadataError } from '../http/errors.js';
import { DEFAULT_RETRY_POLICY, withRetries } from '../http/retry.js';
import { MetadataTransport } from '../http/transport.js';
import type { TokenBucket } from '../http/token-bucket.js';
import { ALIBABA_DEFAULT_ENDPOINT } from './alibaba/client.js';
import { TOKEN_HEADER, TOKEN_PATH, TOKEN_TTL_HEADER } from './alibaba/token.js';
import { AZURE_DEFAULT_ENDPOINT } from './azure/client.js';
import { isPlainObject } from './validation.js';

export interface DetectOptions {
  /** One endpoint for both probes (tests, emulator); default: each provider's own address. */
  endpoint?: string;
  budget: TokenBucket;
  clock: Clock;
  random: Random;
  logger: Logger;
  /** Connect and answer timeout of one probe request. */
  probeTimeoutMs?: number;
  signal?: AbortSignal;
}

export const DEFAULT_PROBE_TIMEOUT_MS = 2_000;

type ProbeResult = { ok: true } | { ok: false; reason: string };

/**
 * `--provider auto`: asks both services at once, with short timeouts, a question only the real one
 * answers the right way:
 * - Azure: `GET /metadata/versions` with `Metadata: true` → 200 and `{"apiVersions": [...]}`;
 * - Alibaba: `PUT /latest/api/token` → a token, then `GET /latest/meta-data/instance-id` with it (or
 *   without, in normal mode) → 200 and an ECS instance id (`i-...`).
 * Neither: an error naming what each probe got. Both (one server pretending to be both): an error
 * asking for `--provider`.
 */
export async function detectProvider(options: DetectOptions): Promise<ProviderName> {
  const timeout = options.probeTimeoutMs ?? DEFAULT_PROBE_TIMEOUT_MS;
  const make = (service: ProviderName, fallback: string): MetadataTransport =>
    new MetadataTransport({
      service,
      baseUrl: options.endpoint ?? fallback,
      budget: options.budget,
      clock: options.clock,
      connectTimeoutMs: timeout,
      requestTimeoutMs: timeout,
    });
  const azure = make('azure', AZURE_DEFAULT_ENDPOINT);
  const alibaba = make('alibaba', ALIBABA_DEFAULT_ENDPOINT);
  const deadline = options.clock.now() + timeout * 3;
  const retry = { ...DEFAULT_RETRY_POLICY, maxAttempts: 2, malformedMaxAttempts: 1, backoff: { baseMs: 100, capMs: 500 } };
  const attempt = async (probe: () => Promise<ProbeResult>): Promise<ProbeResult> => {
    try {
      return await withRetries(probe, { policy: retry, clock: options.clock, random: options.random, signal: options.signal, deadline });
    } catch (err) {
      if (isMetadataError(err)) return { ok: false, reason: `${err.path ? `${err.method ?? 'GET'} ${err.path}: ` : ''}${err.status !== undefined ? `HTTP ${err.status} ` : ''}${err.detail}` };
      throw err;
    }
  };
  try {
    const [az, ali] = await Promise.all([
      attempt(() => probeAzure(azure, options.signal, deadline)),
      attempt(() => probeAlibaba(alibaba, options.signal, deadline)),
    ]);
    options.logger.debug('provider detection', { azure: az.ok ? 'answered' : az.reason, alibaba: ali.ok ? 'answered' : ali.reason });
    if (az.ok && ali.ok) {
      throw new MetadataError({ kind: 'unsupported', service: 'detect', detail: 'both the Azure and the Alibaba probes were answered; pass --provider azure or --provider alibaba' });
    }
    if (az.ok) return 'azure';
    if (ali.ok) return 'alibaba';
    throw new MetadataError({
      kind: 'unsupported',
      service: 'detect',
      detail: `no metadata service answered as Azure IMDS or Alibaba ECS metadata would (azure at ${azure.baseUrl.origin}: ${az.reason} | alibaba at ${alibaba.baseUrl.origin}: ${ali.reason}); pass --provider and --endpoint`,
    });
  } finally {
    await Promise.all([azure.close(), alibaba.close()]);
  }
}

async function probeAzure(t: MetadataTransport, signal: AbortSignal | undefined, deadline: number): Promise<ProbeResult> {
  const res = await t.send({ method: 'GET', path: '/metadata/versions', headers: { Metadata: 'true' }, signal, deadline });
  if (res.status === 429 || res.status === 410 || res.status >= 500) {
    throw new MetadataError({ kind: 'http', service: 'azure', path: '/metadata/versions', status: res.status, detail: 'probe answered with a retryable status' });
  }
  if (res.status !== 200) return { ok: false, reason: `GET /metadata/versions answered HTTP ${res.status}` };
  try {
    const doc: unknown = JSON.parse(res.text);
    if (isPlainObject(doc) && Array.isArray(doc.apiVersions)) return { ok: true };
  } catch {
    // fall through
  }
  return { ok: false, reason: 'GET /metadata/versions answered 200 without an apiVersions list' };
}

/** ECS instance ids: `i-` and letters/digits (`i-bp13znx0m0me8cquu1234`). */
const INSTANCE_ID = /^i-[A-Za-z0-9]{4,64}$/;
/** Tokens are opaque, but base64-like; an HTML page or a word is not one. */
const TOKEN_LIKE = /^[A-Za-z0-9+/=_.~-]{16,4096}$/;

async function probeAlibaba(t: MetadataTransport, signal: AbortSignal | undefined, deadline: number): Promise<ProbeResult> {
  const token = await t.send({ method: 'PUT', path: TOKEN_PATH, headers: { [TOKEN_TTL_HEADER]: '60' }, signal, deadline });
  const value = token.text.trim();
  const headers: Record<string, string> = token.status === 200 && TOKEN_LIKE.test(value) ? { [TOKEN_HEADER]: value } : {};
  // Hardened mode when a token came back, normal mode otherwise; either way the instance id must look like one.
  const id = await t.send({ method: 'GET', path: '/latest/meta-data/instance-id', headers, signal, deadline });
  if (id.status === 200 && INSTANCE_ID.test(id.text.trim())) return { ok: true };
  return { ok: false, reason: `PUT ${TOKEN_PATH} answered HTTP ${token.status}${token.status === 200 && !headers[TOKEN_HEADER] ? ' without a token' : ''}, GET /latest/meta-data/instance-id answered HTTP ${id.status}${id.status === 200 ? ' without an instance id' : ''}` };
}
