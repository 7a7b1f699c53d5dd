// The chart's dry run: `config.dryRun: true` is in the controller's configuration (the ConfigMap) and
// becomes `--dry-run` for the controller and every agent, so nothing of the release writes to a Node
// or approves an event, whatever else edits the ConfigMap; the pre-delete cleanup stays a real one.
import { beforeAll, describe, expect, test } from '@jest/globals';
import { parse as parseYaml } from 'yaml';
import { parseConfig } from '../../src/controller/config/config.js';
import { findManifest, parseManifests, renderChart, type Manifest } from './helm.js';

const argsOf = (manifests: Manifest[], kind: string, name: string): string[] => findManifest(manifests, kind, name).spec.template.spec.containers[0].args as string[];

let dryRun: Manifest[];
let real: Manifest[];
beforeAll(async () => {
  [dryRun, real] = await Promise.all([renderChart([], ['--set', 'config.dryRun=true']).then(parseManifests), renderChart().then(parseManifests)]);
}, 60_000);

describe('config.dryRun', () => {
  test('is in the configuration the controller reads, and the controller accepts it', () => {
    const text = findManifest(dryRun, 'ConfigMap', 'nodemeta-controller-config').data['config.yaml'] as string;
    expect(parseYaml(text)).toEqual({ dryRun: true });
    const parsed = parseConfig(text);
    expect(parsed.ok && parsed.config.dryRun).toBe(true);
  });

  test('gives the controller and the agents --dry-run; without it neither has the flag', () => {
    expect(argsOf(dryRun, 'Deployment', 'nodemeta-controller')).toContain('--dry-run');
    expect(argsOf(dryRun, 'DaemonSet', 'nodemeta-agent')).toContain('--dry-run');
    expect(argsOf(real, 'Deployment', 'nodemeta-controller')).not.toContain('--dry-run');
    expect(argsOf(real, 'DaemonSet', 'nodemeta-agent')).not.toContain('--dry-run');
  });

  test('leaves the uninstall cleanup a real one (it takes back only what nodemeta wrote)', () => {
    const job = dryRun.find((manifest) => manifest.kind === 'Job');
    expect(job).toBeDefined();
    expect(JSON.stringify(job!.spec)).not.toContain('--dry-run');
  });
});
