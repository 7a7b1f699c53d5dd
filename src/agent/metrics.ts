// The agent's Prometheus metrics, on a Registry passed in (no global registry: tests run many agents).

import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

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
    if (options.processMetrics) collectDefaultMetrics({ register: registry, prefix: 'nodemeta_agent_' });
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
  }
}
