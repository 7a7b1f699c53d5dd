import { describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { Registry } from 'prom-client';
import { createControllerMetrics } from '../../../src/controller/metrics.js';

describe('controller metrics', () => {
  it('registers on the given registry only, with the queue depth read at scrape time', async () => {
    const registry = new Registry();
    let depth = 3;
    const metrics = createControllerMetrics({ registry, queueDepth: () => depth });
    metrics.apiWrites.inc({ resource: 'nodes', verb: 'apply' });
    metrics.configReloads.inc({ result: 'failure' });
    let text = await registry.metrics();
    expect(text).toContain('nodemeta_controller_queue_depth 3');
    expect(text).toContain('nodemeta_controller_api_writes_total{resource="nodes",verb="apply"} 1');
    expect(text).toContain('nodemeta_controller_config_reloads_total{result="failure"} 1');
    depth = 0;
    text = await registry.metrics();
    expect(text).toContain('nodemeta_controller_queue_depth 0');
    // A second controller in the same process gets its own registry without clashes.
    expect(() => createControllerMetrics({ registry: new Registry() })).not.toThrow();
  });

  it('documents every metric in docs/metrics.md', async () => {
    const registry = new Registry();
    createControllerMetrics({ registry });
    const docs = readFileSync(new URL('../../../docs/metrics.md', import.meta.url), 'utf8');
    for (const metric of registry.getMetricsAsArray()) expect(docs).toContain(`\`${metric.name}\``);
  });
});
