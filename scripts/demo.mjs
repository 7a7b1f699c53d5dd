#!/usr/bin/env node
/* global process, console, setTimeout */
// make demo: the local control plane with six simulated AKS nodes, one emulated Azure VM and one
// real nodemeta agent per node, two controller replicas electing a leader, and a Deployment the real
// scheduler spreads over nodemeta's fault-domain label. Prints what happened; with a terminal it
// keeps running (kubectl get nmd works) until Ctrl-C, then stops everything it started.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const CLUSTER_DIR = process.env.CLUSTER_DIR ?? path.join(ROOT, '.cache/cluster');
const NODEMETA = path.join(ROOT, 'dist/cmd/nodemeta.js');
const NAMESPACE = 'nodemeta-demo';
const children = [];
let startedCluster = false;
const t0 = Date.now();

const say = (text) => console.log(`[demo +${((Date.now() - t0) / 1000).toFixed(1).padStart(5)}s] ${text}`);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function sh(cmd, args, { env, allowFail = false, input } = {}) {
  const res = spawnSync(cmd, args, { cwd: ROOT, encoding: 'utf8', env: { ...process.env, ...env }, input });
  if (res.status !== 0 && !allowFail) throw new Error(`${cmd} ${args.join(' ')} failed (${res.status}):\n${res.stderr || res.stdout}`);
  return res;
}

let kubectlPath;
const kubectl = (args, opts) => sh(kubectlPath, ['--kubeconfig', path.join(CLUSTER_DIR, 'kubeconfig'), ...args], opts).stdout;

async function waitFor(what, fn, timeoutMs = 120_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await fn();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(500);
  }
}

/** Starts a nodemeta subcommand; resolves with its first stdout JSON line when `readLine` is set. */
function startNodemeta(name, args, { readLine = false } = {}) {
  const child = spawn(process.execPath, [NODEMETA, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NODE_NAME: '' } });
  children.push({ name, child });
  const logs = [];
  child.stderr.setEncoding('utf8').on('data', (d) => logs.push(...d.split('\n').filter(Boolean)));
  child.on('exit', (code, signal) => {
    if (!stopping) say(`${name} exited (${code ?? signal}); last log lines:\n${logs.slice(-5).join('\n')}`);
  });
  if (!readLine) {
    child.stdout.resume();
    return Promise.resolve({ child, logs });
  }
  return new Promise((resolve, reject) => {
    let buffer = '';
    child.stdout.setEncoding('utf8').on('data', (d) => {
      buffer += d;
      const nl = buffer.indexOf('\n');
      if (nl >= 0) resolve({ child, logs, line: JSON.parse(buffer.slice(0, nl)) });
    });
    child.once('exit', (code) => reject(new Error(`${name} exited ${code}: ${logs.slice(-5).join('\n')}`)));
  });
}

let stopping = false;
async function stopAll() {
  if (stopping) return;
  stopping = true;
  for (const { child } of children.reverse()) child.kill('SIGTERM');
  await sleep(1500);
  if (kubectlPath) kubectl(['delete', 'namespace', NAMESPACE, '--ignore-not-found', '--wait=false'], { allowFail: true });
  if (startedCluster) {
    say('stopping the cluster the demo started');
    sh('scripts/cluster-down.sh', [], { env: { CLUSTER_DIR }, allowFail: true });
  }
}

async function main() {
  if (!existsSync(NODEMETA)) throw new Error('dist/ is missing: run `make demo` (it builds first)');
  if (sh('scripts/cluster-up.sh', ['--status'], { env: { CLUSTER_DIR }, allowFail: true }).status === 0) {
    say(`using the running cluster in ${path.relative(ROOT, CLUSTER_DIR)}`);
  } else {
    say('starting the local control plane (etcd, kube-apiserver, controller-manager, scheduler, kwok)');
    sh('scripts/cluster-up.sh', ['--nodes', '6'], { env: { CLUSTER_DIR } });
    startedCluster = true;
  }
  const cluster = JSON.parse(readFileSync(path.join(CLUSTER_DIR, 'cluster.json'), 'utf8'));
  kubectlPath = path.join(cluster.binDir, 'kubectl');
  const kubeconfig = path.join(CLUSTER_DIR, 'kubeconfig');
  say(`Kubernetes ${cluster.kubeVersion} at ${cluster.apiServer}`);

  kubectl(['apply', '--server-side', '-f', 'crds/']);
  kubectl(['wait', '--for=condition=Established', 'crd/nodemetadatas.nodemeta.io', '--timeout=60s']);
  kubectl(['create', 'namespace', NAMESPACE], { allowFail: true });

  const { line: emulator } = await startNodemeta('emulator', ['emulator', '--provider', 'azure', '--port', '0', '--scenario', 'demo/aks-fleet.yaml'], { readLine: true });
  say(`emulated Azure IMDS for ${emulator.vms.length} VMs at ${emulator.listening}`);
  for (const vm of emulator.vms) {
    await startNodemeta(`agent ${vm}`, ['agent', '--provider', 'azure', '--endpoint', `${emulator.listening}/vm/${vm}`, '--node-name', vm, '--kubeconfig', kubeconfig, '--metrics-addr', '127.0.0.1:0', '--instance-interval', '10s']);
  }
  say(`started ${emulator.vms.length} agents, one per node`);
  for (const id of ['a', 'b']) {
    await startNodemeta(`controller ${id}`, ['controller', '--config', 'demo/controller-config.yaml', '--kubeconfig', kubeconfig, '--identity', `demo-controller-${id}`, '--lease-namespace', NAMESPACE, '--metrics-addr', '127.0.0.1:0']);
  }
  say('started 2 controller replicas (Lease leader election)');

  await waitFor('labels on every node', () => {
    const out = kubectl(['get', 'nodes', '-l', 'nodemeta.io/fault-domain', '-o', 'name']);
    return out.trim().split('\n').filter(Boolean).length >= emulator.vms.length;
  });
  say('every node is labelled');

  kubectl(['apply', '-f', '-'], { input: deploymentYaml() });
  const pods = await waitFor('6 Running pods', () => {
    const list = JSON.parse(kubectl(['get', 'pods', '-n', NAMESPACE, '-l', 'app=web', '-o', 'json'])).items;
    const running = list.filter((p) => p.status?.phase === 'Running');
    return running.length === 6 ? running : undefined;
  });
  say('the demo Deployment is Running');

  printReport(pods);

  if (process.stdin.isTTY && !process.env.CI) {
    console.log('\nThe demo keeps running. In another terminal:');
    console.log(`  source ${path.relative(ROOT, CLUSTER_DIR)}/env.sh && kubectl get nmd`);
    console.log(`  curl -X POST ${emulator.listening}/_emulator/events -d '{"type":"Reboot","resources":["${emulator.vms[0]}"]}'`);
    console.log('Press Ctrl-C to stop.');
    await new Promise((resolve) => process.once('SIGINT', resolve));
  }
}

function deploymentYaml() {
  return `apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: ${NAMESPACE}}
spec:
  replicas: 6
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      tolerations: [{key: kwok.x-k8s.io/node, operator: Exists, effect: NoSchedule}]
      topologySpreadConstraints:
        - {maxSkew: 1, topologyKey: nodemeta.io/fault-domain, whenUnsatisfiable: DoNotSchedule, labelSelector: {matchLabels: {app: web}}}
      containers: [{name: web, image: registry.example/web:1}]
`;
}

function printReport(pods) {
  const nodes = JSON.parse(kubectl(['get', 'nodes', '-o', 'json'])).items;
  const podsOn = (name) => pods.filter((p) => p.spec.nodeName === name).length;
  const rows = nodes.map((n) => {
    const l = n.metadata.labels;
    const tags = Object.entries(l).filter(([k]) => k.startsWith('tag.nodemeta.io/')).map(([k, v]) => `${k.slice('tag.nodemeta.io/'.length)}=${v}`);
    return [n.metadata.name, l['nodemeta.io/zone'] ?? '-', l['nodemeta.io/fault-domain'] ?? '-', l['nodemeta.io/update-domain'] ?? '-', l['nodemeta.io/instance-type'] ?? '-', String(podsOn(n.metadata.name)), tags.join(' ')];
  });
  table('\nNodes and the labels nodemeta gave them', ['NODE', 'ZONE', 'FD', 'UD', 'INSTANCE TYPE', 'PODS', 'TAG LABELS'], rows);
  const perDomain = {};
  for (const p of pods) {
    const fd = nodes.find((n) => n.metadata.name === p.spec.nodeName)?.metadata.labels['nodemeta.io/fault-domain'] ?? '?';
    perDomain[fd] = (perDomain[fd] ?? 0) + 1;
  }
  console.log(`\nDeployment web (6 replicas, topologySpreadConstraints on nodemeta.io/fault-domain, maxSkew 1):`);
  for (const [fd, n] of Object.entries(perDomain).sort()) console.log(`  fault domain ${fd}: ${'#'.repeat(n)} ${n} pods`);
  console.log('\nkubectl get nmd');
  console.log(kubectl(['get', 'nmd']).trimEnd().replace(/^/gm, '  '));
}

function table(title, header, rows) {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  console.log(title);
  for (const r of [header, ...rows]) console.log('  ' + r.map((c, i) => c.padEnd(widths[i])).join('  '));
}

process.once('SIGTERM', () => void stopAll().then(() => process.exit(143)));
main()
  .then(stopAll)
  .catch(async (err) => {
    console.error(`demo failed: ${err.message}`);
    await stopAll();
    process.exitCode = 1;
  });
