// The Helm chart without a cluster: lint, golden renders (default, AKS, ACK), the values schema,
// and the properties a security review reads (hardened pods, least-privilege RBAC, the policy).
// The same renders are accepted by the real API server in test/e2e/chart-install.test.ts.
//
// Golden files are rewritten only with UPDATE_GOLDEN=1 (then review the diff before committing), never
// under CI (test/golden.ts).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, test } from '@jest/globals';
import { parse as parseYaml } from 'yaml';
import { FIELD_MANAGER_AGENT, GROUP, PLURAL } from '../../src/api/names.js';
import { parseConfig } from '../../src/controller/config/config.js';
import { LEASE_NAME } from '../../src/controller/controller.js';
import { rewriteRequested } from '../golden.js';
import { configValuesSchema } from './config-values-schema.js';
import { generatedBlocks, README, withBlocks } from './readme.js';
import { CHART_DIR, findManifest, GOLDEN_DIR, helm, NAMESPACE, parseManifests, REPO_ROOT, renderChart, VALUE_SETS, valuesFilesOf, type Manifest } from './helm.js';

const UPDATE = rewriteRequested('UPDATE_GOLDEN');

const renders: Record<string, { text: string; manifests: Manifest[] }> = {};

beforeAll(async () => {
  for (const set of Object.keys(VALUE_SETS)) {
    const text = await renderChart(valuesFilesOf(set));
    renders[set] = { text, manifests: parseManifests(text) };
  }
}, 120_000);

const podTemplates = (manifests: Manifest[]) =>
  manifests
    .filter((m) => ['Deployment', 'DaemonSet', 'Job'].includes(m.kind))
    .map((m) => ({ owner: `${m.kind}/${m.metadata.name}`, spec: m.spec.template.spec }));

describe('chart files', () => {
  test('the chart ships the CRDs of crds/, byte for byte (scripts/check-chart-crds.sh)', () => {
    const top = readdirSync(path.join(REPO_ROOT, 'crds')).sort();
    expect(readdirSync(path.join(CHART_DIR, 'crds')).sort()).toEqual(top);
    for (const file of top) {
      expect(readFileSync(path.join(CHART_DIR, 'crds', file), 'utf8')).toBe(readFileSync(path.join(REPO_ROOT, 'crds', file), 'utf8'));
    }
    expect(execFileSync(path.join(REPO_ROOT, 'scripts/check-chart-crds.sh'), { encoding: 'utf8' })).toContain('matches');
  });

  test('the check script fails when the chart CRD drifts', () => {
    // A copy of the repository layout with one changed byte.
    const root = mkdtempSync(path.join(tmpdir(), 'nodemeta-crds-'));
    execFileSync('mkdir', ['-p', `${root}/scripts`, `${root}/crds`, `${root}/charts/nodemeta/crds`]);
    execFileSync('cp', [path.join(REPO_ROOT, 'scripts/check-chart-crds.sh'), `${root}/scripts/`]);
    for (const file of readdirSync(path.join(REPO_ROOT, 'crds'))) {
      const text = readFileSync(path.join(REPO_ROOT, 'crds', file), 'utf8');
      writeFileSync(path.join(root, 'crds', file), text);
      writeFileSync(path.join(root, 'charts/nodemeta/crds', file), text.replace('shortNames: [nmd]', 'shortNames: [nm]'));
    }
    expect(() => execFileSync(path.join(root, 'scripts/check-chart-crds.sh'), { stdio: 'pipe' })).toThrow();
  });

  test("values.schema.json's config section is the controller's configuration schema", () => {
    const file = path.join(CHART_DIR, 'values.schema.json');
    const schema = JSON.parse(readFileSync(file, 'utf8')) as { properties: Record<string, unknown> };
    const expected = configValuesSchema();
    if (UPDATE) {
      schema.properties.config = expected;
      writeFileSync(file, `${JSON.stringify(schema, null, 2)}\n`);
    }
    expect(schema.properties.config).toEqual(expected);
  });
});

describe('chart README', () => {
  test('its values, metrics and Events references are generated from values.yaml and the code', async () => {
    if (UPDATE) writeFileSync(README, withBlocks(readFileSync(README, 'utf8'), await generatedBlocks()));
    const readme = readFileSync(README, 'utf8');
    expect(readme).toBe(withBlocks(readme, await generatedBlocks()));
  });

  test('every value in values.yaml is in the reference', async () => {
    const table = (await generatedBlocks()).values!;
    for (const key of ['agent.provider', 'agent.alibaba.mode', 'controller.leaderElection.leaseName', 'config', 'metrics.serviceMonitor.enabled', 'cleanup.enabled', 'admissionPolicy.enabled']) {
      expect(table).toContain(`| \`${key}\` |`);
    }
  });
});

describe('helm lint', () => {
  test.each(Object.keys(VALUE_SETS))('%s values lint clean (--strict)', async (set) => {
    const args = ['lint', '--strict', CHART_DIR, '--namespace', NAMESPACE];
    for (const f of valuesFilesOf(set)) args.push('--values', path.join(CHART_DIR, f));
    const r = await helm(args);
    expect(`${r.stdout}${r.stderr}`).toContain('0 chart(s) failed');
    expect(r.code).toBe(0);
  });
});

describe('golden renders', () => {
  test.each(Object.keys(VALUE_SETS))('helm template with %s values matches test/chart/golden', (set) => {
    const file = path.join(GOLDEN_DIR, `${set}.yaml`);
    const text = renders[set]!.text;
    if (UPDATE) writeFileSync(file, text);
    expect(text).toBe(readFileSync(file, 'utf8'));
  });

  test.each(Object.keys(VALUE_SETS))('the %s ConfigMap holds a configuration the controller accepts', (set) => {
    const cm = findManifest(renders[set]!.manifests, 'ConfigMap', 'nodemeta-controller-config');
    const result = parseConfig(cm.data['config.yaml'] as string);
    expect(result).toMatchObject({ ok: true });
  });

  test('AKS and ACK values choose their provider; ACK keeps the hardened Alibaba mode', () => {
    const args = (set: string) => findManifest(renders[set]!.manifests, 'DaemonSet', 'nodemeta-agent').spec.template.spec.containers[0].args as string[];
    expect(args('aks')).toContain('--provider=azure');
    expect(args('ack')).toEqual(expect.arrayContaining(['--provider=alibaba', '--alibaba-mode=hardened']));
    expect(args('default')).toContain('--provider=auto');
  });
});

describe('values schema', () => {
  test.each([
    ['an unknown top-level key', ['--set', 'controllr.replicas=3'], /additional properties|controllr/i],
    ['an unknown provider', ['--set', 'agent.provider=gcp'], /agent\/provider/],
    ['a misspelt event action in config', ['--set', 'config.policy.Reboot.action=Drian'], /config\/policy\/Reboot\/action/],
    ['an unknown config option', ['--set', 'config.drain.maxConcurentDrains=2'], /maxConcurentDrains/],
    ['a malformed config duration', ['--set', 'config.drain.maxGracePeriod=5 minutes'], /maxGracePeriod/],
    ['a percentage over 100', ['--set', 'config.drain.maxConcurrentDrains=150%'], /maxConcurrentDrains/],
    ['an Alibaba mode that does not exist', ['--set', 'agent.alibaba.mode=strict'], /alibaba\/mode/],
  ])('rejects %s', async (_what, extra, message) => {
    const r = await helm(['template', 'nodemeta', CHART_DIR, ...extra]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(message);
  });

  test('refuses Kubernetes older than 1.32 (the admission policy needs the node name in pod-bound tokens)', async () => {
    const old = await helm(['template', 'nodemeta', CHART_DIR, '--kube-version', '1.31.9']);
    expect(old.code).not.toBe(0);
    expect(old.stderr).toContain('chart requires kubeVersion: >=1.32.0-0');
    expect((await helm(['template', 'nodemeta', CHART_DIR, '--kube-version', '1.32.0'])).code).toBe(0);
  });

  test('accepts the configuration example of docs/configuration.md', async () => {
    const doc = readFileSync(path.join(REPO_ROOT, 'docs/configuration.md'), 'utf8');
    const example = /## Example\s+```yaml\n([\s\S]*?)```/.exec(doc)?.[1];
    expect(example).toBeDefined();
    const dir = mkdtempSync(path.join(tmpdir(), 'nodemeta-values-'));
    const file = path.join(dir, 'values.yaml');
    writeFileSync(file, `config:\n${example!.replace(/^/gm, '  ')}`);
    const text = await renderChart([file]);
    const cm = findManifest(parseManifests(text), 'ConfigMap', 'nodemeta-controller-config');
    expect(parseYaml(cm.data['config.yaml'] as string)).toEqual(parseYaml(example!));
    expect(parseConfig(cm.data['config.yaml'] as string)).toMatchObject({ ok: true });
  });
});

describe('workloads', () => {
  const manifests = () => renders.default!.manifests;

  test.each(Object.keys(VALUE_SETS))('every pod (%s values) is hardened: non-root, read-only root, no escalation, no capabilities, seccomp RuntimeDefault', (set) => {
    const pods = podTemplates(renders[set]!.manifests);
    expect(pods.map((p) => p.owner).sort()).toEqual(['DaemonSet/nodemeta-agent', 'Deployment/nodemeta-controller', 'Job/nodemeta-cleanup']);
    for (const { owner, spec } of pods) {
      expect({ owner, pod: spec.securityContext }).toMatchObject({ owner, pod: { runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } } });
      expect(spec.securityContext.runAsUser).toBeGreaterThan(0);
      for (const c of spec.containers) {
        expect({ owner, container: c.securityContext }).toEqual({
          owner,
          container: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, privileged: false, capabilities: { drop: ['ALL'] } },
        });
        expect(c.resources.requests.memory).toBeDefined();
        expect(c.resources.limits.memory).toBeDefined();
      }
    }
  });

  test('the agent DaemonSet: host network, node name from the downward API, every taint tolerated, node-critical, Linux only, rolling update', () => {
    const ds = findManifest(manifests(), 'DaemonSet', 'nodemeta-agent');
    const spec = ds.spec.template.spec;
    expect(spec.hostNetwork).toBe(true);
    expect(spec.dnsPolicy).toBe('ClusterFirstWithHostNet');
    expect(spec.priorityClassName).toBe('system-node-critical');
    expect(spec.tolerations).toEqual([{ operator: 'Exists' }]);
    expect(spec.nodeSelector).toEqual({ 'kubernetes.io/os': 'linux' });
    expect(spec.serviceAccountName).toBe('nodemeta-agent');
    expect(spec.automountServiceAccountToken).toBe(true);
    expect(ds.spec.updateStrategy.type).toBe('RollingUpdate');
    const agent = spec.containers[0];
    expect(agent.env).toContainEqual({ name: 'NODE_NAME', valueFrom: { fieldRef: { fieldPath: 'spec.nodeName' } } });
    expect(agent.args[0]).toBe('agent');
    expect(agent.args).toContain('--metrics-addr=:9102');
    expect(agent.livenessProbe.httpGet).toEqual({ path: '/healthz', port: 'metrics' });
    expect(agent.readinessProbe.httpGet).toEqual({ path: '/readyz', port: 'metrics' });
    // The agent's memory budget (docs/scaling.md): request 64Mi, limit at most 128Mi.
    expect(agent.resources.requests.memory).toBe('64Mi');
    expect(agent.resources.limits.memory).toBe('128Mi');
  });

  test('the controller Deployment: 2 leader-elected replicas, a PDB, probes, the config mounted as a directory without a restart checksum', () => {
    const dep = findManifest(manifests(), 'Deployment', 'nodemeta-controller');
    expect(dep.spec.replicas).toBe(2);
    const spec = dep.spec.template.spec;
    const c = spec.containers[0];
    expect(c.args).toEqual(
      expect.arrayContaining(['controller', '--config=/etc/nodemeta/config.yaml', '--leader-elect=true', `--lease-name=${LEASE_NAME}`, `--lease-namespace=${NAMESPACE}`, '--metrics-addr=:8080']),
    );
    expect(c.env).toEqual(
      expect.arrayContaining([
        { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
        { name: 'POD_NAMESPACE', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } },
      ]),
    );
    expect(c.livenessProbe.httpGet).toEqual({ path: '/healthz', port: 'metrics' });
    expect(c.readinessProbe.httpGet).toEqual({ path: '/readyz', port: 'metrics' });
    // subPath mounts never see ConfigMap updates; the controller reloads the directory's file.
    const mount = c.volumeMounts.find((m: { name: string }) => m.name === 'config');
    expect(mount).toEqual({ name: 'config', mountPath: '/etc/nodemeta', readOnly: true });
    expect(spec.volumes).toContainEqual({ name: 'config', configMap: { name: 'nodemeta-controller-config' } });
    expect(Object.keys(dep.spec.template.metadata.annotations ?? {}).filter((k) => k.startsWith('checksum/'))).toEqual([]);
    const pdb = findManifest(manifests(), 'PodDisruptionBudget', 'nodemeta-controller');
    expect(pdb.spec).toEqual({ minAvailable: 1, selector: dep.spec.selector });
  });

  test('one replica renders no PDB (it could never be satisfied) and no leader election when asked', async () => {
    const m = parseManifests(await renderChart([], ['--set', 'controller.replicas=1', '--set', 'controller.leaderElection.enabled=false']));
    expect(m.filter((x) => x.kind === 'PodDisruptionBudget')).toEqual([]);
    expect(m.filter((x) => x.kind === 'Role')).toEqual([]);
    expect(findManifest(m, 'Deployment', 'nodemeta-controller').spec.template.spec.containers[0].args).toContain('--leader-elect=false');
  });

  test('metrics Services for both components; ServiceMonitors and PodMonitors only when asked', async () => {
    expect(findManifest(manifests(), 'Service', 'nodemeta-controller-metrics').spec.ports).toEqual([{ name: 'metrics', port: 8080, targetPort: 'metrics', protocol: 'TCP' }]);
    expect(findManifest(manifests(), 'Service', 'nodemeta-agent-metrics').spec.clusterIP).toBe('None');
    expect(manifests().filter((x) => x.apiVersion.startsWith('monitoring.coreos.com'))).toEqual([]);
    const m = parseManifests(await renderChart([], ['--set', 'metrics.serviceMonitor.enabled=true', '--set', 'metrics.podMonitor.enabled=true', '--set', 'metrics.serviceMonitor.labels.release=prom']));
    expect(m.filter((x) => x.kind === 'ServiceMonitor').map((x) => x.metadata.name)).toEqual(['nodemeta-controller', 'nodemeta-agent']);
    expect(m.filter((x) => x.kind === 'PodMonitor').map((x) => x.metadata.name)).toEqual(['nodemeta-controller', 'nodemeta-agent']);
    expect(findManifest(m, 'ServiceMonitor', 'nodemeta-agent').metadata.labels?.release).toBe('prom');
  });

  test('a PrometheusRule with the alerts of docs/metrics.md, on metrics that exist, only when asked', async () => {
    expect(manifests().filter((x) => x.kind === 'PrometheusRule')).toEqual([]);
    const m = parseManifests(
      await renderChart([], ['--set', 'metrics.prometheusRule.enabled=true', '--set', 'metrics.prometheusRule.cordonedFor=90m', '--set', 'metrics.prometheusRule.alertLabels.team=platform', '--namespace', 'ops']),
    );
    const rule = findManifest(m, 'PrometheusRule', 'nodemeta');
    const rules = rule.spec.groups[0].rules as { alert: string; expr: string; for?: string; labels: Record<string, string> }[];
    expect(rules.map((r) => r.alert)).toEqual([
      'NodemetaControllerWithoutLeader',
      'NodemetaDrainFailed',
      'NodemetaNodeCordonedTooLong',
      'NodemetaMetadataUnavailable',
      'NodemetaApprovalsFailing',
      'NodemetaNotificationsLost',
      'NodemetaControllerApiThrottled',
      'NodemetaMaintenanceNotDrainReady',
    ]);
    expect(rules.find((r) => r.alert === 'NodemetaMaintenanceNotDrainReady')?.for).toBe('1m');
    expect(rules.find((r) => r.alert === 'NodemetaNodeCordonedTooLong')?.for).toBe('90m');
    const documented = readFileSync(path.join(REPO_ROOT, 'docs/metrics.md'), 'utf8');
    for (const r of rules) {
      expect(r.labels).toMatchObject({ team: 'platform' });
      expect(r.labels.severity).toMatch(/^(warning|critical)$/);
      // Every series the rule reads, only from this release's namespace, and a metric nodemeta serves.
      const selectors = [...r.expr.matchAll(/(nodemeta_[a-z_]+)\{([^}]*)\}/g)];
      expect(selectors.length).toBeGreaterThan(0);
      for (const [, metric, matchers] of selectors) {
        expect(matchers).toMatch(/^namespace="ops"/);
        expect(documented).toContain(`\`${metric!.replace(/_bucket$/, '')}\``);
      }
    }
  });

  test('nameOverride, fullnameOverride, image digest and pull secrets', async () => {
    const m = parseManifests(
      await renderChart([], ['--set', 'fullnameOverride=nm', '--set', 'image.digest=sha256:' + 'a'.repeat(64), '--set', 'imagePullSecrets[0].name=regcred']),
    );
    const ds = findManifest(m, 'DaemonSet', 'nm-agent');
    expect(ds.spec.template.spec.containers[0].image).toBe(`ghcr.io/nodemeta/nodemeta@sha256:${'a'.repeat(64)}`);
    expect(ds.spec.template.spec.imagePullSecrets).toEqual([{ name: 'regcred' }]);
    findManifest(m, 'Deployment', 'nm-controller');
    const m2 = parseManifests(await renderChart([], ['--set', 'nameOverride=nm']));
    findManifest(m2, 'Deployment', 'nodemeta-nm-controller');
  });

  test('the pre-delete cleanup hook runs with the controller account and can be turned off', async () => {
    const job = findManifest(manifests(), 'Job', 'nodemeta-cleanup');
    expect(job.metadata.annotations).toMatchObject({ 'helm.sh/hook': 'pre-delete', 'helm.sh/hook-delete-policy': 'before-hook-creation,hook-succeeded' });
    expect(job.spec.template.spec.serviceAccountName).toBe('nodemeta-controller');
    expect(job.spec.template.spec.containers[0].args).toEqual(expect.arrayContaining(['controller', '--cleanup']));
    const m = parseManifests(await renderChart([], ['--set', 'cleanup.enabled=false']));
    expect(m.filter((x) => x.kind === 'Job')).toEqual([]);
  });
});

describe('the rendered command lines', () => {
  // `nodemeta <command> ... --help` parses every flag strictly before it prints the help, so it
  // exits 0 only if the binary knows every flag the chart passes.
  const nodemeta = path.join(REPO_ROOT, 'dist/cmd/nodemeta.js');
  const accepts = (args: string[]) => {
    try {
      execFileSync(process.execPath, [nodemeta, ...args, '--help'], { stdio: 'pipe', encoding: 'utf8' });
      return 'ok';
    } catch (err) {
      return String((err as { stderr?: string }).stderr ?? err);
    }
  };

  test.each(Object.keys(VALUE_SETS))('the %s controller and agent flags are flags of the nodemeta binary (make build first)', (set) => {
    const m = renders[set]!.manifests;
    expect(accepts(findManifest(m, 'Deployment', 'nodemeta-controller').spec.template.spec.containers[0].args)).toBe('ok');
    expect(accepts(findManifest(m, 'DaemonSet', 'nodemeta-agent').spec.template.spec.containers[0].args)).toBe('ok');
  });

  test('the cleanup hook flags are flags of the nodemeta binary', () => {
    expect(accepts(findManifest(renders.default!.manifests, 'Job', 'nodemeta-cleanup').spec.template.spec.containers[0].args)).toBe('ok');
  });
});

describe('least privilege', () => {
  const manifests = () => renders.default!.manifests;
  type Rule = { apiGroups: string[]; resources: string[]; verbs: string[]; resourceNames?: string[] };
  const rules = (kind: string, name: string) => findManifest(manifests(), kind, name).rules as Rule[];
  /** "group/resource verb" strings, one per granted combination. */
  const grants = (rs: Rule[]) => rs.flatMap((r) => r.apiGroups.flatMap((g) => r.resources.flatMap((res) => r.verbs.map((v) => `${g || 'core'}/${res} ${v}${r.resourceNames ? ` ${r.resourceNames.join(',')}` : ''}`)))).sort();

  test('no wildcard anywhere in the chart RBAC', () => {
    for (const m of manifests().filter((x) => x.kind === 'ClusterRole' || x.kind === 'Role')) {
      expect(JSON.stringify(m.rules)).not.toContain('*');
    }
  });

  test('the agent may get Nodes, get/create NodeMetadata and patch their status: nothing else', () => {
    expect(grants(rules('ClusterRole', 'nodemeta-agent'))).toEqual(
      [`core/nodes get`, `${GROUP}/${PLURAL} create`, `${GROUP}/${PLURAL} get`, `${GROUP}/${PLURAL}/status patch`].sort(),
    );
    expect(manifests().filter((x) => x.kind === 'RoleBinding' && x.subjects.some((s: { name: string }) => s.name === 'nodemeta-agent'))).toEqual([]);
  });

  test('the controller: nodes, pods (read), PodDisruptionBudgets (list, watch), evictions, events, NodeMetadata (read, status patch), its own Lease; no deletes, no secrets', () => {
    expect(grants(rules('ClusterRole', 'nodemeta-controller'))).toEqual(
      [
        'core/nodes get',
        'core/nodes list',
        'core/nodes watch',
        'core/nodes patch',
        'core/pods get',
        'core/pods list',
        'core/pods watch',
        'core/pods/eviction create',
        'policy/poddisruptionbudgets list',
        'policy/poddisruptionbudgets watch',
        'core/events create',
        'core/events patch',
        `${GROUP}/${PLURAL} get`,
        `${GROUP}/${PLURAL} list`,
        `${GROUP}/${PLURAL} watch`,
        `${GROUP}/${PLURAL}/status patch`,
      ].sort(),
    );
    expect(grants(rules('Role', 'nodemeta-controller-leader-election'))).toEqual(
      ['coordination.k8s.io/leases create', `coordination.k8s.io/leases get ${LEASE_NAME}`, `coordination.k8s.io/leases update ${LEASE_NAME}`].sort(),
    );
    const all = JSON.stringify(manifests().filter((x) => x.kind.endsWith('Role')).map((x) => x.rules));
    expect(all).not.toMatch(/"delete"|"deletecollection"|"secrets"|"escalate"|"bind"|"impersonate"/);
  });

  test('the controller may delete pods only when a rule of config.policy says atDeadline: Delete (general or per provider)', async () => {
    const controllerGrants = async (args: string[]) => grants(findManifest(parseManifests(await renderChart([], args)), 'ClusterRole', 'nodemeta-controller').rules as Rule[]);
    const [wait, general, provider] = await Promise.all([
      controllerGrants(['--set', 'config.policy.Reboot.atDeadline=Wait', '--set', 'config.policy.Terminate.action=Drain']),
      controllerGrants(['--set', 'config.policy.Reboot.atDeadline=Delete']),
      controllerGrants(['--set', 'config.policy.providers.alibaba.SpotTermination.atDeadline=Delete']),
    ]);
    const byDefault = grants(rules('ClusterRole', 'nodemeta-controller'));
    expect(byDefault).not.toContain('core/pods delete');
    expect(wait).toEqual(byDefault);
    // Only delete on pods, nothing more: the rest of the role is the same.
    expect(general).toEqual([...byDefault, 'core/pods delete'].sort());
    expect(provider).toEqual([...byDefault, 'core/pods delete'].sort());
  }, 60_000);

  test('the admission policy binds the agent account, fails closed and denies', () => {
    const policy = findManifest(manifests(), 'ValidatingAdmissionPolicy', 'nodemeta-agent-own-node');
    expect(policy.spec.failurePolicy).toBe('Fail');
    expect(policy.spec.matchConstraints.resourceRules[0]).toMatchObject({
      apiGroups: [GROUP],
      operations: ['CREATE', 'UPDATE', 'DELETE'],
      resources: [PLURAL, `${PLURAL}/status`],
    });
    expect(policy.spec.matchConditions).toEqual([{ name: 'agent-service-account', expression: `request.userInfo.username == 'system:serviceaccount:${NAMESPACE}:nodemeta-agent'` }]);
    const binding = findManifest(manifests(), 'ValidatingAdmissionPolicyBinding', 'nodemeta-agent-own-node');
    expect(binding.spec).toEqual({ policyName: 'nodemeta-agent-own-node', validationActions: ['Deny'] });
    expect(FIELD_MANAGER_AGENT).toBe('nodemeta-agent');
  });
});
