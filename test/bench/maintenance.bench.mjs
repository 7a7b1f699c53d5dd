#!/usr/bin/env node
/* global process, console, fetch, setTimeout */
// How fast nodemeta takes a node out of service for maintenance, through every real part: emulated
// Azure IMDS → agent process → NodeMetadata status (API server) → controller process → Node, pods.
//
//   node test/bench/maintenance.bench.mjs [--events 20] [--pods 100] [--rounds 3]
//
// 1. Event → cordon: a Preempt (action Drain, at once) for node 0 posted to the emulator until the
//    Node shows spec.unschedulable=true on a watch; --events times, one after another (each waits for
//    the drain, then the event is removed and the node uncordoned before the next, then a random
//    pause of up to 1 s so that events land anywhere in the agent's poll cycle, as real ones do).
//    Split into event → the agent's status write (IMDS is polled every second) and that write → the
//    cordon.
// 2. Drain of --pods pods on node 1 (a Deployment pinned there by nodeSelector, no PDB): from the
//    Preempt posted to phase Drained, and to the last pod of the node gone (watch).
// 3. The same pods drained by the pinned `kubectl drain --ignore-daemonsets --delete-emptydir-data`
//    (no event, nodemeta idle): until kubectl exits, and to the last pod gone.
// 2 and 3 alternate --rounds times; between drains the node is uncordoned and the ReplicaSet's pods
// come back to it. Figures, not assertions. Needs the control plane binaries (make tools); starts a
// cluster of its own (2 nodes) and stops it. Emulator, agent and controller logs stay in the printed
// directory.
import { spawn, spawnSync } from 'node:child_process';
import { createWriteStream, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { KubeConfig } from '@kubernetes/client-node';
import { WatchedObjects } from './lib/kube-watch.mjs';
import { printSamples } from './lib/samples.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const NODEMETA = path.join(ROOT, 'dist/cmd/nodemeta.js');
const { values } = parseArgs({ options: { events: { type: 'string', default: '20' }, pods: { type: 'string', default: '100' }, rounds: { type: 'string', default: '3' } } });
const EVENTS = Number(values.events);
const PODS = Number(values.pods);
const ROUNDS = Number(values.rounds);
const CLUSTER_DIR = mkdtempSync(path.join(tmpdir(), 'nodemeta-bench-maintenance-'));
const LOG_DIR = mkdtempSync(path.join(tmpdir(), 'nodemeta-bench-maintenance-logs-'));
const NODE_CORDON = 'aks-pool1-12345678-vmss000000';
const NODE_DRAIN = 'aks-pool1-12345678-vmss000001';
const NAMESPACE = 'bench-drain';
const children = [];
const watches = [];
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const log = (text) => console.log(`[maintenance bench] ${text}`);
const fmt = (ms) => `${Math.round(ms)} ms`;

function sh(cmd, args, env = {}) {
  const res = spawnSync(cmd, args, { cwd: ROOT, encoding: 'utf8', env: { ...process.env, ...env } });
  if (res.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${res.stderr || res.stdout}`);
  return res.stdout;
}

/** Runs a command without blocking the event loop (the watches keep timestamping while it runs). */
function run(cmd, args) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`${cmd} ${args.join(' ')} exited ${code}: ${out.slice(-2000)}`))));
  });
}

function start(name, args, readLine) {
  const child = spawn(process.execPath, [NODEMETA, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NODE_NAME: '' } });
  children.push(child);
  child.stderr.pipe(createWriteStream(path.join(LOG_DIR, `${name}.log`)));
  if (!readLine) return child.stdout.resume() && child;
  return new Promise((resolve) => child.stdout.setEncoding('utf8').once('data', (d) => resolve({ child, line: JSON.parse(d.split('\n')[0]) })));
}


async function main() {
  log(`cluster in ${CLUSTER_DIR}; emulator, agent and controller logs in ${LOG_DIR}`);
  sh('scripts/cluster-up.sh', ['--nodes', '2'], { CLUSTER_DIR });
  const cluster = JSON.parse(readFileSync(path.join(CLUSTER_DIR, 'cluster.json'), 'utf8'));
  const kubeconfig = cluster.kubeconfig;
  const KUBECTL = path.join(cluster.binDir, 'kubectl');
  const kubectl = (...a) => sh(KUBECTL, ['--kubeconfig', kubeconfig, ...a]);
  kubectl('apply', '--server-side', '-f', 'crds/');
  kubectl('wait', '--for=condition=Established', 'crd/nodemetadatas.nodemeta.io', '--timeout=60s');
  const config = path.join(CLUSTER_DIR, 'config.yaml');
  writeFileSync(config, '# defaults: Preempt → Drain at once, approve AfterDrain\n{}\n');

  const { line } = await start('emulator', ['emulator', '--provider', 'azure', '--port', '0', '--vms', '2'], true);
  const control = async (method, p, body) => {
    const res = await fetch(`${line.listening}/_emulator${p}`, { method, headers: { 'content-type': 'application/json' }, body: body && JSON.stringify(body) });
    const text = await res.text();
    if (res.status >= 300) throw new Error(`${method} ${p}: ${res.status} ${text}`);
    return text ? JSON.parse(text) : {};
  };
  for (const node of [NODE_CORDON, NODE_DRAIN]) {
    start(`agent-${node}`, ['agent', '--provider', 'azure', '--endpoint', `${line.listening}/vm/${node}`, '--node-name', node, '--kubeconfig', kubeconfig, '--metrics-addr', '127.0.0.1:0']);
  }
  start('controller', ['controller', '--config', config, '--kubeconfig', kubeconfig, '--leader-elect=false', '--metrics-addr', '127.0.0.1:0']);

  const kc = new KubeConfig();
  kc.loadFromFile(kubeconfig);
  const watch = async (apiPath, params) => {
    const w = new WatchedObjects(kc, apiPath, params);
    watches.push(w);
    return w.start();
  };
  const nodes = await watch('/api/v1/nodes');
  const nmds = await watch('/apis/nodemeta.io/v1alpha1/nodemetadatas');
  const drainPods = await watch('/api/v1/pods', { fieldSelector: `spec.nodeName=${NODE_DRAIN}` });
  const unschedulable = (name) => nodes.get(name)?.spec?.unschedulable === true;
  const maintenance = (name) => nmds.get(name)?.status?.maintenance;
  const inPhase = (name, eventId, ...phases) => () => maintenance(name)?.eventId === eventId && phases.includes(maintenance(name)?.phase);
  await nmds.until(() => [NODE_CORDON, NODE_DRAIN].every((n) => maintenance(n) !== undefined && nodes.get(n)?.metadata?.labels?.['nodemeta.io/zone'] !== undefined), 120_000, 'both nodes labelled');

  /** Posts a Preempt for `node` (lifecycle manual: it stays until removed), returns its id and when. */
  const preempt = async (node) => {
    const t = Date.now();
    const event = await control('POST', '/events', { type: 'Preempt', resources: [node], lifecycle: 'manual' });
    return { id: event.EventId, t };
  };
  /** Removes the event (the platform is done) and waits until nodemeta has uncordoned the node. */
  const finish = async (node, id) => {
    await control('DELETE', `/events/${id}`);
    await nmds.until(inPhase(node, id, 'Completed'), 60_000, `${node} Completed`);
    await nodes.until(() => !unschedulable(node), 60_000, `${node} uncordoned`);
  };

  // ---- 1. event → cordon ----
  const toCordon = [];
  const toAgent = [];
  const agentToCordon = [];
  for (let i = 0; i < EVENTS; i++) {
    // The previous cycle ended just after an agent poll (it saw the event gone): without a random
    // pause every event would land right after a poll and wait a whole poll interval for the next.
    await sleep(Math.random() * 1000);
    const { id, t } = await preempt(NODE_CORDON);
    const seen = nmds.until(() => (nmds.get(NODE_CORDON)?.status?.events ?? []).some((e) => e.id === id), 60_000, 'the agent to publish the event');
    const cordoned = await nodes.until(() => unschedulable(NODE_CORDON), 60_000, `${NODE_CORDON} cordoned`);
    const published = await seen;
    toCordon.push(cordoned - t);
    toAgent.push(published - t);
    agentToCordon.push(cordoned - published);
    await nmds.until(inPhase(NODE_CORDON, id, 'Drained', 'Approved'), 60_000, `${NODE_CORDON} Drained`);
    await finish(NODE_CORDON, id);
  }
  log(`${EVENTS} events → cordon measured`);

  // ---- 2 and 3. drain of PODS pods: nodemeta, then kubectl drain, alternating ----
  kubectl('create', 'namespace', NAMESPACE);
  const apply = spawnSync(KUBECTL, ['--kubeconfig', kubeconfig, 'apply', '-f', '-'], { input: deploymentYaml(), encoding: 'utf8' });
  if (apply.status !== 0) throw new Error(apply.stderr);
  const running = (w) => w.list().filter((p) => p.status?.phase === 'Running' && p.metadata.deletionTimestamp === undefined && p.metadata.namespace === NAMESPACE).length;
  const podsHere = (w) => w.list().filter((p) => p.metadata.namespace === NAMESPACE).length;
  const refill = async () => {
    const t = Date.now();
    await drainPods.until((w) => running(w) === PODS, 300_000, `${PODS} pods Running on ${NODE_DRAIN}`);
    return Date.now() - t;
  };
  const nodemetaDrain = { drained: [], lastGone: [], cordon: [], cordonToDrained: [] };
  const kubectlDrain = { exited: [], lastGone: [] };
  for (let round = 0; round < ROUNDS; round++) {
    const refilled = await refill();
    log(`round ${round + 1}: ${PODS} pods Running on ${NODE_DRAIN} (${(refilled / 1000).toFixed(1)} s); nodemeta drain`);
    const { id, t } = await preempt(NODE_DRAIN);
    const gone = drainPods.until((w) => podsHere(w) === 0, 300_000, `every pod gone from ${NODE_DRAIN}`);
    const cordoned = await nodes.until(() => unschedulable(NODE_DRAIN), 60_000, `${NODE_DRAIN} cordoned`);
    const drained = await nmds.until(inPhase(NODE_DRAIN, id, 'Drained', 'Approved'), 300_000, `${NODE_DRAIN} Drained`);
    const lastGone = await gone;
    const m = maintenance(NODE_DRAIN);
    nodemetaDrain.cordon.push(cordoned - t);
    nodemetaDrain.drained.push(drained - t);
    nodemetaDrain.cordonToDrained.push(drained - cordoned);
    nodemetaDrain.lastGone.push(lastGone - t);
    log(`  nodemeta: cordon ${fmt(cordoned - t)}, Drained ${fmt(drained - t)} (evictedPods ${m?.evictedPods}), last pod gone ${fmt(lastGone - t)}`);
    await finish(NODE_DRAIN, id);

    const refilled2 = await refill();
    log(`round ${round + 1}: ${PODS} pods Running on ${NODE_DRAIN} again (${(refilled2 / 1000).toFixed(1)} s); kubectl drain`);
    const t2 = Date.now();
    const gone2 = drainPods.until((w) => podsHere(w) === 0, 300_000, `every pod gone from ${NODE_DRAIN}`);
    const output = await run(KUBECTL, ['--kubeconfig', kubeconfig, 'drain', NODE_DRAIN, '--ignore-daemonsets', '--delete-emptydir-data']);
    const exited = Date.now();
    writeFileSync(path.join(LOG_DIR, `kubectl-drain-${round + 1}.log`), output);
    const lastGone2 = await gone2;
    kubectlDrain.exited.push(exited - t2);
    kubectlDrain.lastGone.push(lastGone2 - t2);
    log(`  kubectl drain: exited ${fmt(exited - t2)}, last pod gone ${fmt(lastGone2 - t2)}`);
    await run(KUBECTL, ['--kubeconfig', kubeconfig, 'uncordon', NODE_DRAIN]);
  }

  console.log(`\nKubernetes ${cluster.kubeVersion}; agent events poll 1 s (default); controller default config; ${EVENTS} events, ${PODS} pods, ${ROUNDS} drain rounds`);
  printSamples('1. Preempt posted -> Node spec.unschedulable=true (watch)', toCordon);
  printSamples('   of which: event posted -> agent wrote it to NodeMetadata status', toAgent);
  printSamples('   of which: status written -> node cordoned (controller)', agentToCordon);
  printSamples(`2. nodemeta drain of ${PODS} pods, no PDB: event -> phase Drained`, nodemetaDrain.drained);
  printSamples(`   event -> last pod gone from the node`, nodemetaDrain.lastGone);
  printSamples(`   cordon -> phase Drained`, nodemetaDrain.cordonToDrained);
  printSamples(`3. kubectl drain --ignore-daemonsets --delete-emptydir-data, ${PODS} pods: start -> kubectl exited`, kubectlDrain.exited);
  printSamples(`   start -> last pod gone from the node`, kubectlDrain.lastGone);
}

function deploymentYaml() {
  return `apiVersion: apps/v1
kind: Deployment
metadata: {name: drain-me, namespace: ${NAMESPACE}}
spec:
  replicas: ${PODS}
  selector: {matchLabels: {app: drain-me}}
  template:
    metadata: {labels: {app: drain-me}}
    spec:
      nodeSelector: {kubernetes.io/hostname: ${NODE_DRAIN}}
      tolerations: [{key: kwok.x-k8s.io/node, operator: Exists, effect: NoSchedule}]
      containers: [{name: app, image: registry.example/app:1}]
`;
}

main()
  .catch((err) => {
    console.error(`maintenance bench failed: ${err.message}`);
    process.exitCode = 1;
  })
  .finally(async () => {
    for (const w of watches) w.stop();
    for (const c of children) c.kill('SIGTERM');
    await sleep(1000);
    spawnSync(path.join(ROOT, 'scripts/cluster-down.sh'), [], { env: { ...process.env, CLUSTER_DIR }, stdio: 'ignore' });
  });
