// The agent's Prometheus metrics, on a Registry passed in (no global registry: tests run many agents).
//
// prom-client is loaded file by file, not through its index: the index also loads its Pushgateway,
// cluster aggregation, Summary and every default metric, and some of those pull in
// @opentelemetry/api (exemplars). The agent runs on every node and needs none of them; its
// steady-state RSS is what test/bench/agent-memory.bench.mjs prints. The controller, one per
// cluster, uses the index.

import { createRequire } from 'node:module';
import type { Counter as CounterClass, Gauge as GaugeClass, Histogram as HistogramClass, Registry as RegistryClass } from 'prom-client';

type Counter<T extends string = string> = CounterClass<T>;
type Gauge<T extends string = string> = GaugeClass<T>;
type Histogram<T extends string = string> = HistogramClass<T>;
export type Registry = RegistryClass;
type DefaultMetric = (registry: RegistryClass, config: { prefix: string }) => void;

const require = createRequire(import.meta.url);
const Counter = require('prom-client/lib/counter.js') as typeof CounterClass;
const Gauge = require('prom-client/lib/gauge.js') as typeof GaugeClass;
const Histogram = require('prom-client/lib/histogram.js') as typeof HistogramClass;
const Registry = require('prom-client/lib/registry.js') as typeof RegistryClass;

/**
 * prom-client's default metrics the agent exports, by file: resident memory, heap, start time and
 * file descriptors. Not its CPU counter, which loads @opentelemetry/api: the CPU counter below.
 */
const PROCESS_METRICS = ['osMemoryHeap', 'heapSizeAndUsed', 'processStartTime', 'processOpenFileDescriptors', 'processMaxFileDescriptors'] as const;

function registerProcessMetrics(registry: RegistryClass, prefix: string): void {
  for (const name of PROCESS_METRICS) (require(`prom-client/lib/metrics/${name}.js`) as DefaultMetric)(registry, { prefix });
  let last = process.cpuUsage();
  new Counter({
    name: `${prefix}process_cpu_seconds_total`,
    help: 'Total user and system CPU time spent in seconds.',
    registers: [registry],
    collect() {
      const now = process.cpuUsage();
      this.inc((now.user - last.user + now.system - last.system) / 1e6);
      last = now;
    },
  });
}

/** A registry for the agent's metrics (what `new Registry()` from prom-client's index would give). */
export function newRegistry(): RegistryClass {
  return new Registry();
}

export class AgentMetrics {
  readonly registry: Registry;
  readonly imdsRequests: Counter<'endpoint' | 'code'>;
  readonly pollDuration: Histogram<'kind' | 'result'>;
  readonly eventsSeen: Counter<'type'>;
  readonly activeEvents: Gauge<'type'>;
  readonly metadataAvailable: Gauge;
  readonly statusWrites: Counter<'result'>;
  readonly approvals: Counter<'result'>;

  constructor(registry = new Registry(), options: { processMetrics?: boolean } = {}) {
    this.registry = registry;
    if (options.processMetrics) registerProcessMetrics(registry, 'nodemeta_agent_');
    const registers = [registry];
    this.imdsRequests = new Counter({
      name: 'nodemeta_agent_imds_requests_total',
      help: 'Requests to the metadata service by endpoint and HTTP status code (or error kind: timeout, connection).',
      labelNames: ['endpoint', 'code'],
      registers,
    });
    this.pollDuration = new Histogram({
      name: 'nodemeta_agent_poll_duration_seconds',
      help: 'Duration of one poll of the metadata service, retries included, by kind (instance, events) and result.',
      labelNames: ['kind', 'result'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 80, 120],
      registers,
    });
    this.eventsSeen = new Counter({
      name: 'nodemeta_agent_events_seen_total',
      help: 'Distinct maintenance events (and spot terminations) first seen by this agent, by normalised type.',
      labelNames: ['type'],
      registers,
    });
    this.activeEvents = new Gauge({
      name: 'nodemeta_agent_active_events',
      help: 'Maintenance events concerning this VM right now, by normalised type.',
      labelNames: ['type'],
      registers,
    });
    this.metadataAvailable = new Gauge({
      name: 'nodemeta_agent_metadata_available',
      help: '1 when the last poll of the metadata service succeeded, 0 otherwise.',
      registers,
    });
    this.statusWrites = new Counter({
      name: 'nodemeta_agent_status_writes_total',
      help: 'Server-side applies of NodeMetadata status, by result (ok, error). No write happens when nothing changed.',
      labelNames: ['result'],
      registers,
    });
    this.approvals = new Counter({
      name: 'nodemeta_agent_approvals_total',
      help: 'Scheduled events approved early (Azure StartRequests) at the controller\'s request, by result.',
      labelNames: ['result'],
      registers,
    });
    // Both series exist from the start at 0, so that an alert on increase() sees the first error
    // (docs/metrics.md, NodemetaApprovalsFailing).
    for (const result of ['ok', 'error']) this.approvals.inc({ result }, 0);
  }
}
