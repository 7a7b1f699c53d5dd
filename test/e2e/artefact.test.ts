// The artefact as shipped (issue 11): the image's file system built as the Dockerfile builds it
// (production dependencies only, dist/ without source maps, package.json) and the chart's
// containers run from it, on the local control plane, the way the kubelet and a container runtime
// would run them: as uid 65532 with no capabilities, a read-only root file system, the pod's
// command, arguments, environment (NODE_OPTIONS included) and volumes, the service-account token
// the kubelet would project, KUBERNETES_SERVICE_HOST/PORT, and the process as PID 1.
//
// The chart is installed with `helm install` (kwok plays the kubelet, so the pods run no image);
// each process below runs with its pod's spec as the API server stored it and a token bound to
// that pod. A runtime import of a dev dependency, a write to the file system, or a flag or Node
// option the chart passes that the binary rejects fails this test. docs/cluster.md#the-artefact-as-shipped
// says what it proves and what only a real image build does.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { CoreV1Api, CustomObjectsApi, type V1Container, type V1Pod, type V1Volume } from '@kubernetes/client-node';
import { GROUP, Labels, PLURAL, VERSION } from '../../src/api/names.js';
import type { NodeMetadata } from '../../src/api/nodemetadata.js';
import { startEmulator, type RunningEmulator } from '../../src/emulator/emulator.js';
import { CHART_DIR } from '../chart/helm.js';
import { createNode, deleteNode } from './controller-harness.js';
import { clusterInfo, createTestNamespace, deleteTestNamespace, kubeConfig, kubeconfigPath, runTool, waitFor } from './lib/cluster.js';
import {
  containerLaunch,
  filesUnder,
  freePort,
  readDockerfile,
  stageImageApp,
  startInSandbox,
  type ContainerLaunch,
  type ImageConfig,
  type SandboxedProcess,
  type StagedApp,
} from './lib/image-sandbox.js';

const suffix = Math.random().toString(36).slice(2, 7);
const RELEASE = `nodemeta-art-${suffix}`;
const NODE = `nmart-${suffix}`;
const SELECTOR = { 'nodemeta.io/e2e': `artefact-${suffix}` };
// What the emulated VM says about itself, and so the labels the controller must write.
const VM = { location: 'eastus', zone: '1', faultDomain: '2', updateDomain: '3' };
// Anything a process writes outside a writable volume fails with one of these; none may be logged.
const WRITE_ERRORS = /EROFS|EACCES|EPERM|read-only file system|permission denied/i;

const kc = kubeConfig();
const core = kc.makeApiClient(CoreV1Api);
const custom = kc.makeApiClient(CustomObjectsApi);
const scratch = mkdtempSync(path.join(tmpdir(), 'nodemeta-artefact-'));
const processes: SandboxedProcess[] = [];

let image: ImageConfig;
let app: StagedApp;
let emulator: RunningEmulator | undefined;
let ns = '';
let installed = false;
let nodeCreated = false;
const ports = { agent: 0, controller: 0 };

function helm(args: string[], timeoutMs = 300_000) {
  return runTool('helm', [...args, '--kubeconfig', kubeconfigPath()], {
    timeoutMs,
    env: { HELM_CACHE_HOME: path.join(scratch, 'helm-cache'), HELM_CONFIG_HOME: path.join(scratch, 'helm-config'), HELM_DATA_HOME: path.join(scratch, 'helm-data') },
  });
}

/** The chart's running pod of a component (on our node for the agent). */
function chartPod(component: 'agent' | 'controller'): Promise<V1Pod> {
  return waitFor(`the chart's ${component} pod`, async () => {
    const pods = await core.listNamespacedPod({
      namespace: ns,
      labelSelector: `app.kubernetes.io/instance=${RELEASE},app.kubernetes.io/component=${component}`,
      ...(component === 'agent' ? { fieldSelector: `spec.nodeName=${NODE}` } : {}),
    });
    return pods.items.find((p) => p.status?.phase === 'Running' && p.metadata?.deletionTimestamp === undefined);
  });
}

function containerOf(pod: V1Pod, name: string): V1Container {
  const c = pod.spec?.containers.find((x) => x.name === name);
  if (!c) throw new Error(`pod ${pod.metadata?.name} has no container ${name}`);
  return c;
}

/**
 * What the kubelet would put into each volume of `pod`: the projected service-account volume (a
 * token bound to this pod from the TokenRequest API, the cluster CA from kube-root-ca.crt, the
 * namespace), ConfigMaps as stored, emptyDirs empty. Anything else fails the test, so a chart
 * change the test does not model is noticed.
 */
function volumesOf(pod: V1Pod) {
  const podNs = pod.metadata?.namespace ?? ns;
  const configMap = async (name: string | undefined) => (await core.readNamespacedConfigMap({ name: name ?? '', namespace: podNs })).data ?? {};
  return async (volume: V1Volume): Promise<Record<string, string> | 'emptyDir'> => {
    if (volume.emptyDir) return 'emptyDir';
    if (volume.configMap) {
      const data = await configMap(volume.configMap.name);
      if (!volume.configMap.items) return data;
      return Object.fromEntries(volume.configMap.items.map((i) => [i.path, data[i.key] ?? '']));
    }
    if (volume.projected) {
      const files: Record<string, string> = {};
      for (const s of volume.projected.sources ?? []) {
        if (s.serviceAccountToken) {
          const r = await core.createNamespacedServiceAccountToken({
            name: pod.spec?.serviceAccountName ?? 'default',
            namespace: podNs,
            body: {
              spec: {
                audiences: s.serviceAccountToken.audience ? [s.serviceAccountToken.audience] : [],
                expirationSeconds: s.serviceAccountToken.expirationSeconds ?? 3600,
                boundObjectRef: { apiVersion: 'v1', kind: 'Pod', name: pod.metadata?.name, uid: pod.metadata?.uid },
              },
            },
          });
          files[s.serviceAccountToken.path] = r.status?.token ?? '';
        } else if (s.configMap) {
          const data = await configMap(s.configMap.name);
          for (const i of s.configMap.items ?? Object.keys(data).map((key) => ({ key, path: key }))) files[i.path] = data[i.key] ?? '';
        } else if (s.downwardAPI) {
          for (const i of s.downwardAPI.items ?? []) {
            if (i.fieldRef?.fieldPath !== 'metadata.namespace') throw new Error(`projected downward API ${JSON.stringify(i)}: not modelled`);
            files[i.path] = podNs;
          }
        } else {
          throw new Error(`projected source ${JSON.stringify(s)}: not modelled by the artefact test`);
        }
      }
      return files;
    }
    throw new Error(`volume ${volume.name} (${JSON.stringify(volume)}): not modelled by the artefact test`);
  };
}

async function launchOf(pod: V1Pod, container: string): Promise<ContainerLaunch> {
  const api = new URL(clusterInfo().apiServer);
  return containerLaunch({
    image,
    pod,
    containerName: container,
    apiServer: { host: api.hostname, port: Number(api.port || 443) },
    volumeSource: volumesOf(pod),
    scratch: mkdtempSync(path.join(scratch, `${container}-`)),
  });
}

function start(name: string, launch: ContainerLaunch): SandboxedProcess {
  const p = startInSandbox({ name, image, app, launch, scratch });
  processes.push(p);
  return p;
}

function describeProcess(p: SandboxedProcess): string {
  return `${p.name} (exit code ${p.child.exitCode}); stderr:\n${p.stderr().slice(-3000)}\nstdout:\n${p.stdout().slice(-1000)}`;
}

/** waitFor, failing at once (with the logs) if the process exits first. */
async function whileRunning<T>(p: SandboxedProcess, what: string, fn: () => Promise<T | undefined | false>, timeoutMs = 90_000): Promise<T> {
  const exited = p.exited.then((code) => Promise.reject(new Error(`${what}: ${p.name} exited with ${code} first\n${describeProcess(p)}`)));
  exited.catch(() => undefined);
  const waited = waitFor(what, fn, { timeoutMs }).catch((err: Error) => Promise.reject(new Error(`${err.message}\n${describeProcess(p)}`)));
  return Promise.race([waited, exited]);
}

/** The container's probe URL on this host (hostNetwork or not, the process listens on `:PORT` here). */
function probeUrl(container: V1Container, probe: 'livenessProbe' | 'readinessProbe'): string {
  const get = container[probe]?.httpGet;
  if (!get) throw new Error(`${container.name} has no HTTP ${probe}`);
  const port = typeof get.port === 'number' ? get.port : container.ports?.find((p) => p.name === get.port)?.containerPort;
  if (!port) throw new Error(`${container.name} ${probe}: port ${get.port} not found`);
  return `http://127.0.0.1:${port}${get.path ?? '/'}`;
}

async function httpStatus(url: string): Promise<number> {
  try {
    return (await fetch(url, { signal: AbortSignal.timeout(5_000) })).status;
  } catch {
    return 0;
  }
}

/** What the sandbox promises about the process: the image's user, no privileges, PID 1. */
function expectConfined(p: SandboxedProcess): void {
  const s = p.status();
  expect({ Uid: s.Uid, Gid: s.Gid, Groups: s.Groups, NoNewPrivs: s.NoNewPrivs, CapEff: s.CapEff, CapPrm: s.CapPrm, CapInh: s.CapInh, CapAmb: s.CapAmb }).toEqual({
    Uid: `${image.user.uid}\t${image.user.uid}\t${image.user.uid}\t${image.user.uid}`,
    Gid: `${image.user.gid}\t${image.user.gid}\t${image.user.gid}\t${image.user.gid}`,
    Groups: '',
    NoNewPrivs: '1',
    CapEff: '0000000000000000',
    CapPrm: '0000000000000000',
    CapInh: '0000000000000000',
    CapAmb: '0000000000000000',
  });
  expect(s.NSpid?.split(/\s+/).at(-1)).toBe('1');
}

beforeAll(async () => {
  image = readDockerfile();
  app = await stageImageApp(scratch);
  await createNode(NODE, SELECTOR);
  nodeCreated = true;
  emulator = await startEmulator({
    provider: 'azure',
    scenario: [
      'provider: azure',
      'vms:',
      `  - {name: ${NODE}, instance: {location: ${VM.location}, zone: "${VM.zone}", platformFaultDomain: "${VM.faultDomain}", platformUpdateDomain: "${VM.updateDomain}"}}`,
    ].join('\n'),
  });
  ns = await createTestNamespace('nodemeta-artefact');
  ports.agent = await freePort();
  ports.controller = await freePort();
  // The AKS values, plus what points the release at this test: the emulator instead of IMDS, free
  // ports (the processes share this host's network), and only this test's node.
  const values = {
    agent: { endpoint: emulator.endpoint(NODE), metricsPort: ports.agent, nodeSelector: SELECTOR },
    controller: { metricsPort: ports.controller, extraArgs: [`--node-selector=${Object.entries(SELECTOR)[0]!.join('=')}`] },
  };
  const valuesFile = path.join(scratch, 'values.json');
  writeFileSync(valuesFile, JSON.stringify(values));
  const r = await helm(['install', RELEASE, CHART_DIR, '--namespace', ns, '-f', path.join(CHART_DIR, 'values-aks.yaml'), '-f', valuesFile, '--wait', '--timeout', '5m']);
  if (r.code !== 0) throw new Error(`helm install exited ${r.code}: ${r.stderr}`);
  installed = true;
}, 420_000);

afterAll(async () => {
  for (const p of processes) p.kill();
  await Promise.all(processes.map((p) => p.exited));
  if (installed) await helm(['uninstall', RELEASE, '--namespace', ns, '--wait', '--timeout', '3m']);
  if (nodeCreated) await deleteNode(NODE).catch(() => undefined);
  if (ns) await deleteTestNamespace(ns);
  await emulator?.close();
  rmSync(scratch, { recursive: true, force: true });
}, 300_000);

describe('the image, the chart and this test agree', () => {
  test("the Dockerfile's runtime stage: production dependencies, dist without maps, package.json, owned by root; USER, WORKDIR, ENTRYPOINT", () => {
    expect(image.copies.map((c) => ({ ...c, from: path.posix.relative('/src', c.from) }))).toEqual([
      { from: 'package.json', to: '/app/package.json', chown: '0:0' },
      { from: 'node_modules', to: '/app/node_modules', chown: '0:0' },
      { from: 'dist', to: '/app/dist', chown: '0:0' },
    ]);
    expect(image.workdir).toBe('/app');
    // The recipe productionNodeModules() and stageImageApp() follow.
    expect(image.buildCommands).toContain('npm prune --omit=dev');
    expect(image.buildCommands).toContain("find dist -name '*.map' -delete");
    expect(image.entrypoint).toEqual(['/nodejs/bin/node', '/app/dist/cmd/nodemeta.js']);
    expect(image.user).toEqual({ uid: 65532, gid: 65532 });
    expect(image.env).toEqual({ NODE_ENV: 'production' });
  });

  test.each(['agent', 'controller'] as const)("the chart's %s container runs the image's entrypoint as its user, read-only, without privileges", async (component) => {
    const pod = await chartPod(component);
    const c = containerOf(pod, component);
    // The agent adds Node flags before the script (--lite-mode is refused in NODE_OPTIONS); the
    // controller runs the ENTRYPOINT as it is.
    const command = c.command ?? image.entrypoint;
    expect([command[0], command.at(-1)]).toEqual([image.entrypoint[0], image.entrypoint.at(-1)]);
    const sc = { ...pod.spec?.securityContext, ...c.securityContext };
    expect(sc).toMatchObject({ runAsNonRoot: true, runAsUser: image.user.uid, runAsGroup: image.user.gid, readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } });
  });
});

describe('the sandbox', () => {
  test('refuses every write outside a writable volume, runs the process as PID 1 with the image user and no privileges', async () => {
    const script = [
      "const fs = require('node:fs');",
      "const tries = ['/app/x', '/app/dist/x', '/app/node_modules/x', '/x', '/etc/x', '/home/nonroot/x', '/tmp/x'];",
      'const result = {};',
      "for (const f of tries) { try { fs.writeFileSync(f, ''); result[f] = 'written'; } catch (e) { result[f] = e.code; } }",
      "result.status = fs.readFileSync('/proc/self/status', 'utf8');",
      'result.cwd = process.cwd(); result.env = process.env;',
      'console.log(JSON.stringify(result));',
    ].join('\n');
    const launch: ContainerLaunch = { argv: [image.entrypoint[0]!, '-e', script], env: { ...image.env }, user: image.user, mounts: [], emptyDirs: [] };
    const p = start('write-probe', launch);
    expect(await p.exited).toBe(0);
    const r = JSON.parse(p.stdout()) as Record<string, string> & { env: Record<string, string> };
    expect({ ...r, status: undefined, cwd: undefined, env: undefined }).toEqual({
      '/app/x': 'EROFS',
      '/app/dist/x': 'EROFS',
      '/app/node_modules/x': 'EROFS',
      '/x': 'EROFS',
      '/etc/x': 'EROFS',
      '/home/nonroot/x': 'EROFS',
      '/tmp/x': 'ENOENT', // no /tmp unless a volume provides one (the controller's emptyDir)
      status: undefined,
      cwd: undefined,
      env: undefined,
    });
    expect(r.status).toMatch(/^Uid:\t65532\t65532\t65532\t65532$/m);
    expect(r.status).toMatch(/^CapEff:\t0+$/m);
    expect(r.status).toMatch(/^NoNewPrivs:\t1$/m);
    expect(r.status).toMatch(/^NSpid:\t1$/m);
    expect(r.cwd).toBe(image.workdir);
    expect(r.env).toEqual(image.env);
  });
});

describe('the chart’s containers, run from the image', () => {
  let agentPod: V1Pod;
  let controllerPod: V1Pod;
  let agent: SandboxedProcess;
  let controller: SandboxedProcess;
  let controllerLaunch: ContainerLaunch;

  beforeAll(async () => {
    agentPod = await chartPod('agent');
    controllerPod = await chartPod('controller');
  });

  test('`nodemeta agent --once`, with the DaemonSet’s command, arguments and environment, prints the VM’s observation and exits 0', async () => {
    const launch = await launchOf(agentPod, 'agent');
    expect(launch.env.NODE_OPTIONS).toBeDefined(); // the chart's Node flags are part of what runs
    const p = start('agent --once', { ...launch, argv: [...launch.argv, '--once'] });
    expect({ code: await p.exited, stderr: p.stderr() }).toEqual({ code: 0, stderr: expect.not.stringMatching(WRITE_ERRORS) });
    const observation = JSON.parse(p.stdout()) as { provider: string; instance: Record<string, string> };
    expect(observation.provider).toBe('azure');
    expect(observation.instance).toMatchObject({ name: NODE, region: VM.location, zone: `${VM.location}-${VM.zone}`, faultDomain: VM.faultDomain, updateDomain: VM.updateDomain });
  });

  test('the long-running agent, with its pod’s token in-cluster, publishes its NodeMetadata and passes its probes', async () => {
    const launch = await launchOf(agentPod, 'agent');
    agent = start('agent', launch);
    const status = await whileRunning(agent, `NodeMetadata ${NODE} from the agent`, async () => {
      const o = (await custom.getClusterCustomObject({ group: GROUP, version: VERSION, plural: PLURAL, name: NODE }).catch(() => undefined)) as NodeMetadata | undefined;
      return o?.status?.instance?.faultDomain === VM.faultDomain ? o.status : undefined;
    });
    expect(status).toMatchObject({ provider: 'azure', instance: { zone: `${VM.location}-${VM.zone}`, updateDomain: VM.updateDomain } });
    const c = containerOf(agentPod, 'agent');
    for (const probe of ['livenessProbe', 'readinessProbe'] as const) {
      await whileRunning(agent, `the agent's ${probe} ${probeUrl(c, probe)}`, async () => (await httpStatus(probeUrl(c, probe))) === 200);
    }
    expect(agent.stderr()).toContain('in-cluster (/var/run/secrets/kubernetes.io/serviceaccount/token)');
    expectConfined(agent);
  });

  test('the controller, with its pod’s token, config volume and /tmp, becomes ready and labels the node', async () => {
    controllerLaunch = await launchOf(controllerPod, 'controller');
    controller = start('controller', controllerLaunch);
    const c = containerOf(controllerPod, 'controller');
    await whileRunning(controller, `the controller's readinessProbe ${probeUrl(c, 'readinessProbe')}`, async () => (await httpStatus(probeUrl(c, 'readinessProbe'))) === 200);
    expect(await httpStatus(probeUrl(c, 'livenessProbe'))).toBe(200);
    const labels = await whileRunning(controller, `nodemeta labels on ${NODE}`, async () => {
      const l = (await core.readNode({ name: NODE })).metadata?.labels ?? {};
      return l[Labels.faultDomain] === VM.faultDomain ? l : undefined;
    });
    expect(labels).toMatchObject({ [Labels.provider]: 'azure', [Labels.region]: VM.location, [Labels.zone]: `${VM.location}-${VM.zone}`, [Labels.updateDomain]: VM.updateDomain });
    expectConfined(controller);
  });

  test('neither wrote a file nor logged a refused write; each stops on SIGTERM with exit code 0', async () => {
    for (const p of [agent, controller]) {
      expect(p.child.exitCode).toBeNull();
      expect(`${p.stderr()}${p.stdout()}`).not.toMatch(WRITE_ERRORS);
    }
    // The controller's one writable place, the chart's emptyDir at /tmp, stays empty.
    expect(controllerLaunch.emptyDirs.length).toBeGreaterThan(0);
    for (const dir of controllerLaunch.emptyDirs) expect(filesUnder(dir)).toEqual([]);
    for (const p of [agent, controller]) {
      const code = await p.stop();
      expect({ name: p.name, code, stderr: p.stderr().slice(-2000) }).toEqual({ name: p.name, code: 0, stderr: expect.not.stringMatching(WRITE_ERRORS) });
    }
  });
});
