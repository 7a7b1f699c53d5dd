// The long-running agent (the DaemonSet): creates its parts (health and metrics server, API client,
// metadata provider, poll loop) and connects them. The rules live in the parts.

import { hostname } from 'node:os';
import type { ProviderName } from '../api/observation.js';
import { inClusterCredentials, kubeconfigCredentials } from '../kube/credentials.js';
import { KubeRestClient } from '../kube/rest-client.js';
import { startHealthServer } from '../observability/health-server.js';
import { createLogger, type Logger } from '../observability/logger.js';
import { Backoff, type Random } from '../time/backoff.js';
import { sleep, systemClock, type Clock } from '../time/clock.js';
import { isMetadataError } from './http/errors.js';
import { DEFAULT_BUDGET, TokenBucket } from './http/token-bucket.js';
import { AgentMetrics, newRegistry } from './metrics.js';
import { NodeAgent } from './node-agent.js';
import type { AlibabaAccessMode } from './providers/alibaba/client.js';
import { createProvider, type MetadataProvider } from './providers/index.js';
import { NodeMetadataPublisher } from './publisher.js';

/** Which metadata service to use and how (`--provider`, `--endpoint`, `--alibaba-*`). */
export interface ProviderChoice {
  provider: ProviderName | 'auto';
  endpoint: string | undefined;
  alibabaMode: AlibabaAccessMode;
  alibabaTags: boolean;
  /** One metadata-service request's headers and body timeout (`--request-timeout`; default 10 s). */
  requestTimeoutMs?: number;
}

export interface AgentRunOptions extends ProviderChoice {
  nodeName: string;
  /** Talk to the API server with this kubeconfig; in-cluster service-account credentials without. */
  kubeconfig: string | undefined;
  metrics: { host: string; port: number };
  /** Default: 1 s on Azure, 5 s on Alibaba. */
  eventsIntervalMs: number | undefined;
  instanceIntervalMs: number;
  logLevel: string | undefined;
  /** `--dry-run`: never approve an event, only log that it would have (NodeAgentOptions.dryRun). */
  dryRun?: boolean;
}

export function openProvider(choice: ProviderChoice, logger: Logger, signal: AbortSignal, metrics?: AgentMetrics): Promise<MetadataProvider> {
  return createProvider({
    provider: choice.provider,
    endpoint: choice.endpoint,
    alibabaMode: choice.alibabaMode,
    alibabaTags: choice.alibabaTags,
    ...(choice.requestTimeoutMs === undefined ? {} : { requestTimeoutMs: choice.requestTimeoutMs }),
    // One budget for the whole process: every request, retries included, takes a slot.
    budget: new TokenBucket({ ...DEFAULT_BUDGET, clock: systemClock }),
    clock: systemClock,
    random: Math.random,
    logger,
    signal,
    onResponse: metrics && ((o) => metrics.imdsRequests.inc({ endpoint: o.endpoint, code: o.code })),
  });
}

/** Runs until SIGTERM or SIGINT; the exit status (0). */
export async function runAgent(options: AgentRunOptions): Promise<number> {
  const nodeName = options.nodeName;
  const logger = createLogger({ component: 'agent', level: options.logLevel });
  logger.defaultMeta = { ...logger.defaultMeta, node: nodeName };
  const stop = new AbortController();
  for (const sig of ['SIGTERM', 'SIGINT'] as const) {
    process.once(sig, () => {
      logger.info('stopping', { signal: sig });
      stop.abort();
    });
  }
  const metrics = new AgentMetrics(newRegistry(), { processMetrics: true });
  let agent: NodeAgent | undefined;
  const health = await startHealthServer({
    ...options.metrics,
    registry: metrics.registry,
    liveness: [{ name: 'poll-loop', check: () => agent?.alive() }],
    readiness: [{ name: 'status', check: () => (agent ? agent.ready() : 'metadata service not detected yet') }],
  });
  logger.info('serving health and metrics', { url: health.url, pid: process.pid, host: hostname() });

  const credentials = options.kubeconfig ? await kubeconfigCredentials(options.kubeconfig) : await inClusterCredentials();
  const kube = new KubeRestClient(credentials, { userAgent: `nodemeta-agent/${nodeName}`, clock: systemClock });
  let provider: MetadataProvider | undefined;
  try {
    provider = await detectUntilFound(() => openProvider(options, logger, stop.signal, metrics), logger, stop.signal);
    if (!provider) return 0;
    const azure = provider.name === 'azure';
    agent = new NodeAgent({
      provider,
      sink: new NodeMetadataPublisher(kube, nodeName),
      clock: systemClock,
      logger,
      metrics,
      eventsIntervalMs: options.eventsIntervalMs ?? (azure ? 1_000 : 5_000),
      instanceIntervalMs: options.instanceIntervalMs,
      dryRun: options.dryRun === true,
    });
    logger.info('agent started', { provider: provider.name, kube: credentials.source, ...(options.dryRun === true ? { dryRun: true } : {}) });
    await agent.run(stop.signal);
    return 0;
  } finally {
    await provider?.close();
    await kube.close();
    await health.close();
  }
}

/** Between probes for the metadata service: the one backoff, full jitter from 1 s, capped at 1 min. */
export const DETECT_BACKOFF = { baseMs: 1_000, capMs: 60_000 } as const;

/** The clock and jitter source detectUntilFound waits with (the real ones unless a test fixes them). */
export interface DetectTiming {
  clock: Clock;
  random: Random;
}

/**
 * At start the metadata service may be slow to come up: keep probing (`open`) until stopped. The
 * waits are jittered so that a fleet rebooted together does not probe, and log, in step.
 */
export async function detectUntilFound(
  open: () => Promise<MetadataProvider>,
  logger: Logger,
  signal: AbortSignal,
  timing: DetectTiming = { clock: systemClock, random: Math.random },
): Promise<MetadataProvider | undefined> {
  const backoff = new Backoff({ ...DETECT_BACKOFF, random: timing.random });
  while (!signal.aborted) {
    try {
      return await open();
    } catch (err) {
      if (!isMetadataError(err)) throw err;
      const waitMs = backoff.next();
      logger.error('no metadata service found; retrying', { error: err.message, retryInMs: waitMs });
      await sleep(timing.clock, waitMs, signal);
    }
  }
  return undefined;
}
