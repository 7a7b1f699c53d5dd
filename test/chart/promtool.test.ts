// The chart's PrometheusRule (charts/nodemeta/templates/prometheusrule.yaml, the alerts of
// docs/metrics.md) checked by Prometheus's own tools: `promtool check rules` parses every expression,
// and `promtool test rules` evaluates each alert over series in test/chart/promtool/, where each has
// a case that fires and cases that stay silent. Then each alert is broken on purpose (always true,
// never true) to show those cases fail. That every metric a rule reads is one the code serves is
// checked against the real processes' /metrics in test/e2e/prometheus-rule.test.ts.
import { copyFileSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, test } from '@jest/globals';
import { parse as parseYaml, stringify } from 'yaml';
import { findManifest, parseManifests, REPO_ROOT, renderChart } from './helm.js';
import { promtool } from './promtool.js';

const TESTS_FILE = path.join(REPO_ROOT, 'test/chart/promtool/nodemeta-rules.test.yaml');
/** The file name the rule tests load (their rule_files). */
const RULES_FILE = 'nodemeta-rules.yaml';

interface AlertRule {
  alert: string;
  expr: string;
  for?: string;
}
interface RuleGroups {
  groups: { name: string; rules: AlertRule[] }[];
}

/** Seven alerts, one promtool run each, side by side (1 to 2 s each on a busy machine). */
const MUTANTS_TIMEOUT_MS = 120_000;

let groups: RuleGroups;

beforeAll(async () => {
  const rule = findManifest(parseManifests(await renderChart([], ['--set', 'metrics.prometheusRule.enabled=true'])), 'PrometheusRule', 'nodemeta');
  groups = rule.spec as RuleGroups;
}, 120_000);

/** A directory with the rules (as Prometheus loads them: the PrometheusRule's spec) and the tests. */
function workDir(rules: RuleGroups): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'nodemeta-promtool-'));
  writeFileSync(path.join(dir, RULES_FILE), stringify(rules));
  copyFileSync(TESTS_FILE, path.join(dir, path.basename(TESTS_FILE)));
  return dir;
}

const alerts = () => groups.groups.flatMap((g) => g.rules);

/** The rules with one alert's expression replaced. */
function withExpr(alert: string, expr: string): RuleGroups {
  return { groups: groups.groups.map((g) => ({ ...g, rules: g.rules.map((r) => (r.alert === alert ? { ...r, expr } : r)) })) };
}

describe('the PrometheusRule under promtool', () => {
  test('promtool check rules: every expression parses', async () => {
    const r = await promtool(['check', 'rules', RULES_FILE], workDir(groups));
    expect(r.output).toContain(`SUCCESS: ${alerts().length} rules found`);
    expect(r.code).toBe(0);
  });

  test('promtool test rules: every alert fires on its fault and stays silent otherwise', async () => {
    const r = await promtool(['test', 'rules', path.basename(TESTS_FILE)], workDir(groups));
    expect(r.output).toContain('SUCCESS');
    expect(r.code).toBe(0);
  });

  test('the tests have, for every alert, a case where it fires and one where it stays silent', () => {
    const file = parseYaml(readFileSync(TESTS_FILE, 'utf8')) as { rule_files: string[]; tests: { alert_rule_test: { alertname: string; exp_alerts: unknown[] }[] }[] };
    expect(file.rule_files).toEqual([RULES_FILE]);
    const cases = file.tests.flatMap((t) => t.alert_rule_test);
    for (const { alert } of alerts()) {
      expect({ alert, fires: cases.some((c) => c.alertname === alert && c.exp_alerts.length > 0) }).toEqual({ alert, fires: true });
      expect({ alert, silent: cases.some((c) => c.alertname === alert && c.exp_alerts.length === 0) }).toEqual({ alert, silent: true });
    }
  });

  // The rule tests can fail: each alert made always true, then never true, turns its cases red.
  test.each([
    ['always true', 'vector(1)'],
    ['never true', 'vector(0) > 1'],
  ])('each alert %s fails its tests', async (_how, expr) => {
    const runs = await Promise.all(alerts().map(async ({ alert }) => ({ alert, ...(await promtool(['test', 'rules', path.basename(TESTS_FILE)], workDir(withExpr(alert, expr)))) })));
    for (const { alert, code, output } of runs) {
      expect({ alert, code }).toEqual({ alert, code: 1 });
      expect(output).toContain(`alertname: ${alert}`);
    }
  }, MUTANTS_TIMEOUT_MS);
});
