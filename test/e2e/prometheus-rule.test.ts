// The chart's PrometheusRule reads only metrics the code serves: every series selector of every
// alert (charts/nodemeta/templates/prometheusrule.yaml) is checked against a scrape of /metrics of
// the real processes, a controller leading with a notification sink and an agent publishing its
// node's metadata, on the real control plane: the metric is there (HELP/TYPE), and so is each label
// the selector matches on. Not against docs/metrics.md, which could be wrong with the rule.
// promtool parses and evaluates the same rule in test/chart/promtool.test.ts.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, test } from '@jest/globals';
import { findManifest, parseManifests, renderChart } from '../chart/helm.js';
import { installCrd } from './controller-harness.js';
import { waitFor } from './lib/cluster.js';
import { controllerConfig, withScenario } from './maintenance-harness.js';

interface Selector {
  alert: string;
  metric: string;
  /** Label names the selector matches on, the namespace aside. */
  labels: string[];
}

/** Every `nodemeta_…{…}` selector of every alert, and each metric name an expression mentions. */
async function ruleSelectors(): Promise<{ selectors: Selector[]; metrics: Set<string> }> {
  const rule = findManifest(parseManifests(await renderChart([], ['--set', 'metrics.prometheusRule.enabled=true'])), 'PrometheusRule', 'nodemeta');
  const rules = (rule.spec.groups as { rules: { alert: string; expr: string }[] }[]).flatMap((g) => g.rules);
  const selectors: Selector[] = [];
  const metrics = new Set<string>();
  for (const { alert, expr } of rules) {
    for (const [name] of expr.matchAll(/\bnodemeta_[a-z_]+\b/g)) metrics.add(name);
    for (const [, metric, matchers] of expr.matchAll(/\b(nodemeta_[a-z_]+)\{([^}]*)\}/g)) {
      // Each selector is limited to the release's namespace (a label Prometheus adds at scrape).
      const labels = [...matchers!.matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)\s*"/g)].map((m) => m[1]!);
      expect({ alert, metric, namespaced: labels.includes('namespace') }).toEqual({ alert, metric, namespaced: true });
      selectors.push({ alert, metric: metric!, labels: labels.filter((l) => l !== 'namespace') });
    }
  }
  return { selectors, metrics };
}

/** Metric names with a `# TYPE` line, and for each the label names its samples carry. */
function exposition(text: string): Map<string, Set<string>> {
  const families = new Map<string, Set<string>>();
  for (const [, name] of text.matchAll(/^# TYPE (\S+) \S+$/gm)) families.set(name!, new Set());
  for (const [, name, labels] of text.matchAll(/^([a-zA-Z_:][a-zA-Z0-9_:]*)\{([^}]*)\} \S+$/gm)) {
    const family = families.get(name!) ?? families.get(name!.replace(/_(bucket|sum|count)$/, ''));
    for (const [, label] of labels!.matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="/g)) family?.add(label!);
  }
  return families;
}

beforeAll(async () => {
  await installCrd();
});

describe('the PrometheusRule against the real processes', () => {
  test('every metric and label a rule reads is served by the controller or the agent', () =>
    withScenario('promrule', async (s) => {
      const { selectors, metrics } = await ruleSelectors();
      expect(selectors.length).toBeGreaterThanOrEqual(metrics.size);
      const node = s.azureNode(0);
      await s.managedVms('azure', [node]);
      // A sink, so that the notification series exist (each sink's are 0 from its start); its
      // receiver is never asked: no event is posted.
      const url = path.join(mkdtempSync(path.join(tmpdir(), 'nodemeta-e2e-promrule-')), 'url');
      writeFileSync(url, 'http://127.0.0.1:9/ops\n');
      const controller = await s.startController(controllerConfig({ notifications: { sinks: [{ name: 'ops', format: 'generic', urlFrom: { file: url } }] } }));
      await waitFor('the controller to lead', () => controller.isLeader());
      const agent = s.agents[0]!;
      // The agent's first poll done: its metadata gauge and the controller's phase counts are set.
      await waitFor('the agent to report its metadata', async () => /^nodemeta_agent_metadata_available 1$/m.test(await agent.metrics()));
      await waitFor('the controller to count its nodes by phase', async () => /^nodemeta_controller_nodes_by_phase\{/m.test(await controller.metrics()));

      const served = new Map([...exposition(await controller.metrics()), ...exposition(await agent.metrics())]);
      for (const metric of metrics) expect({ metric, served: served.has(metric) }).toEqual({ metric, served: true });
      for (const { alert, metric, labels } of selectors) {
        const carried = [...(served.get(metric) ?? [])];
        for (const label of labels) expect({ alert, metric, label, carried: carried.includes(label) }).toEqual({ alert, metric, label, carried: true });
      }
    }));
});
