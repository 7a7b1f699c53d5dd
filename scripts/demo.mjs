#!/usr/bin/env node
/* global process, console, setTimeout, fetch */
// make demo: the local control plane with six simulated AKS nodes, one emulated Azure VM and one
// real nodemeta agent per node, two controller replicas electing a leader, and a Deployment the real
// scheduler spreads over nodemeta's fault-domain label. Then a maintenance act: a single-replica
// Deployment whose PodDisruptionBudget allows no disruption makes one node not drain-ready, which
// `kubectl get nmd` shows (DRAIN-READY False, with the reason) before anything is scheduled; the
// emulated Azure platform schedules a Reboot of that VM (a DrainAtRisk Event and notification at
// once), and the demo prints, as it happens, how nodemeta cordons the
// node, drains it through the Eviction API (a PodDisruptionBudget holds one eviction back), has the
// agent approve the event once the operator has fixed the blocker the warning named (a second
// replica), and uncordons the node once the reboot is over; a local webhook receiver
// prints each notification nodemeta sends about it (docs/notifications.md). Prints what happened; with
// a terminal it keeps running (kubectl get nmd works) until Ctrl-C, then stops everything it started.
import { KubeConfig, Watch } from '@kubernetes/client-node';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const CLUSTER_DIR = process.env.CLUSTER_DIR ?? path.join(ROOT, '.cache/cluster');
const NODEMETA = path.join(ROOT, 'dist/cmd/nodemeta.js');
const NAMESPACE = 'nodemeta-demo';
const children = [];
let startedCluster = false;
/** The demo has started to change the cluster (CRDs, its namespace): clean up its namespace at the end. */
let usingCluster = false;
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
  if (usingCluster) kubectl(['delete', 'namespace', NAMESPACE, '--ignore-not-found', '--wait=false'], { allowFail: true });
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
  if (!startedCluster) {
    // A running cluster with other nodes is not the demo's (a test's, or someone's own): the demo's
    // controllers would reconcile those nodes too. Use it only when it has exactly the demo's nodes.
    const fleet = parse(readFileSync(path.join(ROOT, 'demo/aks-fleet.yaml'), 'utf8')).vms.map((vm) => vm.name).sort();
    const names = kubectl(['get', 'nodes', '-o', 'jsonpath={.items[*].metadata.name}']).split(/\s+/).filter(Boolean).sort();
    if (names.join(' ') !== fleet.join(' ')) {
      throw new Error(`the running cluster in ${path.relative(ROOT, CLUSTER_DIR)} has nodes ${names.join(', ')}, not the demo's ${fleet.length}: stop it (make cluster-down) or run the demo with CLUSTER_DIR=<another directory>`);
    }
  }

  usingCluster = true;
  kubectl(['apply', '--server-side', '-f', 'crds/']);
  kubectl(['wait', '--for=condition=Established', 'crd/nodemetadatas.nodemeta.io', '--timeout=60s']);
  kubectl(['create', 'namespace', NAMESPACE], { allowFail: true });

  const { line: emulator } = await startNodemeta('emulator', ['emulator', '--provider', 'azure', '--port', '0', '--scenario', 'demo/aks-fleet.yaml'], { readLine: true });
  say(`emulated Azure IMDS for ${emulator.vms.length} VMs at ${emulator.listening}`);
  for (const vm of emulator.vms) {
    await startNodemeta(`agent ${vm}`, ['agent', '--provider', 'azure', '--endpoint', `${emulator.listening}/vm/${vm}`, '--node-name', vm, '--kubeconfig', kubeconfig, '--metrics-addr', '127.0.0.1:0', '--instance-interval', '10s']);
  }
  say(`started ${emulator.vms.length} agents, one per node`);
  const receiver = await startWebhookReceiver();
  const controllerConfig = withNotifications(receiver);
  say(`a webhook receiver for nodemeta's notifications listens at ${receiver.url}`);
  for (const id of ['a', 'b']) {
    await startNodemeta(`controller ${id}`, ['controller', '--config', controllerConfig, '--kubeconfig', kubeconfig, '--identity', `demo-controller-${id}`, '--lease-namespace', NAMESPACE, '--metrics-addr', '127.0.0.1:0']);
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

  await maintenanceAct(emulator, kubeconfig, receiver);

  if (process.stdin.isTTY && !process.env.CI) {
    console.log('\nThe demo keeps running. In another terminal:');
    console.log(`  source ${path.relative(ROOT, CLUSTER_DIR)}/env.sh && kubectl get nmd`);
    console.log(`  curl -X POST ${emulator.listening}/_emulator/events -d '{"type":"Reboot","resources":["${emulator.vms[0]}"]}'`);
    console.log('Press Ctrl-C to stop.');
    await new Promise((resolve) => process.once('SIGINT', resolve));
  }
}

// ---- act 2: planned maintenance ----

const ACT_NODE = 'aks-pool1-12345678-vmss000002';

/**
 * The platform schedules a Reboot of one VM; nodemeta cordons its node, drains it (the Eviction API,
 * so the PodDisruptionBudget of Deployment checkout holds), asks the agent to approve the event once
 * the node is empty, and uncordons it when the reboot is over. The demo plays the platform through
 * the emulator's control API and prints a timeline of what it saw, as it happened, through watches
 * on the node's NodeMetadata, the Node, its pods and its Events.
 */
async function maintenanceAct(emulator, kubeconfig, receiver) {
  const control = async (method, p, body) => {
    const res = await fetch(`${emulator.listening}/_emulator${p}`, { method, headers: { 'content-type': 'application/json' }, body: body && JSON.stringify(body) });
    const text = await res.text();
    if (res.status >= 300) throw new Error(`emulator ${method} ${p}: ${res.status} ${text}`);
    return text ? JSON.parse(text) : {};
  };
  console.log(`\nPlanned maintenance: the Azure platform schedules a Reboot of ${ACT_NODE}.`);
  kubectl(['apply', '-f', '-'], { input: appYaml('checkout', 3, 'maxUnavailable: 1') });
  const checkout = await waitFor('3 checkout pods Ready and the PDB allowing 1 disruption', () => {
    const list = JSON.parse(kubectl(['get', 'pods', '-n', NAMESPACE, '-l', 'app=checkout', '-o', 'json'])).items;
    const ready = list.filter((p) => p.metadata.deletionTimestamp === undefined && (p.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True'));
    const pdb = JSON.parse(kubectl(['get', 'pdb', 'checkout', '-n', NAMESPACE, '-o', 'json']));
    return ready.length === 3 && pdb.status?.disruptionsAllowed === 1 ? ready : undefined;
  });
  const onNode = (list) => list.filter((p) => p.spec.nodeName === ACT_NODE).map((p) => p.metadata.name);
  await notDrainReady();
  const allPods = JSON.parse(kubectl(['get', 'pods', '-n', NAMESPACE, '-o', 'json'])).items;
  console.log(`  Deployment checkout: 3 replicas, ${onNode(checkout).length} of them on ${ACT_NODE} (preferred node affinity);`);
  console.log('  PodDisruptionBudget checkout: maxUnavailable 1, so only one checkout pod may be down at a time.');
  console.log(`  Deployment ledger: 1 replica on ${ACT_NODE}, PodDisruptionBudget ledger minAvailable 1: it allows no disruption.`);
  console.log(`  Pods on ${ACT_NODE} now: ${onNode(allPods).join(', ')}`);
  console.log('  Controller policy (defaults): Reboot → Drain, starting 1h before NotBefore (at once for a 15 min notice); approve AfterDrain.');

  const kc = new KubeConfig();
  kc.loadFromFile(kubeconfig);
  const rows = [];
  let t0;
  const at = () => (t0 === undefined ? 0 : Date.now() - t0);
  const row = (step, source, what) => rows.push({ ms: at(), step, source, what });
  const live = process.stdout.isTTY;
  const print = (r) => console.log(`  ${`+${(r.ms / 1000).toFixed(2)}s`.padStart(8)}  ${(r.step ?? '').padEnd(11)} ${r.source.padEnd(12)} ${r.what}`);
  const header = () => console.log(`\n  ${'TIME'.padStart(8)}  ${'STEP'.padEnd(11)} ${'SOURCE'.padEnd(12)} WHAT (times from the moment the platform scheduled the event)`);

  let eventId;
  const seen = new Set();
  const once = (key, fn) => {
    if (seen.has(key)) return;
    seen.add(key);
    fn();
    if (live && t0 !== undefined) print(rows.at(-1));
  };
  let phase;
  let progress;
  let resolveApproved;
  const approvedSeen = new Promise((resolve) => (resolveApproved = resolve));
  let resolveDone;
  const done = new Promise((resolve) => (resolveDone = resolve));
  let completed = false;
  let uncordoned = false;
  let cordoned = false;

  const onNodeMetadata = (_type, nmd) => {
    if (eventId === undefined) return;
    const status = nmd.status ?? {};
    if ((status.events ?? []).some((e) => e.id === eventId)) once('agent-saw', () => row(undefined, 'NodeMetadata', 'the agent saw the event in IMDS and wrote it into status.events'));
    const m = status.maintenance;
    if (m?.eventId === eventId && m.phase !== phase) {
      phase = m.phase;
      const what = {
        Scheduled: `phase Scheduled: ${m.eventType}, NotBefore ${m.notBefore ?? '-'}; the policy's Drain is due now`,
        Cordoned: 'phase Cordoned: waiting for drain budget',
        Draining: `phase Draining: ${m.totalPods ?? '?'} pods to evict through the Eviction API${m.loadBalancerDrainUntil === undefined ? '' : `, from ${m.loadBalancerDrainUntil} (drain.loadBalancerDrainDelay: the load balancers let go of the node first)`}`,
        Drained: `phase Drained: ${m.evictedPods ?? '?'} pods evicted, none left`,
        Approved: 'phase Approved: the platform may start the reboot now',
        Completed: 'phase Completed: the event is over and the node is Ready',
        Failed: `phase Failed: ${m.lastError ?? ''}`,
      }[m.phase] ?? `phase ${m.phase}`;
      once(`phase-${m.phase}`, () => row(m.phase === 'Approved' ? undefined : m.phase.toLowerCase(), 'NodeMetadata', what));
      if (m.phase === 'Completed') {
        completed = true;
        if (uncordoned) resolveDone();
      }
    }
    if (m?.eventId === eventId && m.phase === 'Draining') {
      const blocked = (m.blockedPods ?? []).map((b) => b.name);
      for (const name of blocked) heldBack.add(name);
      const text = `${m.pendingPods} of ${m.totalPods} pods left${blocked.length > 0 ? `; held back by the PDB: ${blocked.join(', ')}` : ''}`;
      if (text !== progress && m.pendingPods !== m.totalPods) {
        progress = text;
        once(`progress-${text}`, () => row(undefined, 'NodeMetadata', text));
      }
    }
    if (m?.approve === eventId) once('asked', () => row(undefined, 'NodeMetadata', 'status.maintenance.approve set: the controller asks the agent to approve'));
    const drainReady = (status.conditions ?? []).find((c) => c.type === 'DrainReady');
    if (drainReady !== undefined) once(`drain-ready-${drainReady.status}-${drainReady.reason}`, () => row(undefined, 'NodeMetadata', `DrainReady ${drainReady.status} (${drainReady.reason}): ${shorten(drainReady.message, 90)}`));
    const approval = (status.approvals ?? []).find((a) => a.eventId === eventId);
    if (approval !== undefined) {
      once('approved', () => row('approved', 'NodeMetadata', 'the agent POSTed StartRequests to IMDS and recorded it in status.approvals'));
      resolveApproved();
    }
  };
  const onNodeChange = (_type, node) => {
    if (eventId === undefined) return;
    const taint = (node.spec?.taints ?? []).find((t) => t.key === 'nodemeta.io/scheduled-event');
    const taintText = taint === undefined ? 'none' : `${taint.key}=${taint.value}:${taint.effect}`;
    if (taint !== undefined) once(`taint-${taintText}`, () => row(undefined, 'Node', `taint ${taintText}`));
    else if (seen.has('cordoned')) once('taint-removed', () => row(undefined, 'Node', 'taint nodemeta.io/scheduled-event removed'));
    if (node.spec?.unschedulable === true) {
      cordoned = true;
      once('cordoned', () => row('cordoned', 'Node', `spec.unschedulable=true, annotation nodemeta.io/cordoned=${node.metadata.annotations?.['nodemeta.io/cordoned'] ?? '(none)'}`));
    } else if (cordoned) {
      once('uncordoned', () => row('uncordoned', 'Node', 'spec.unschedulable removed: pods may land here again'));
      uncordoned = true;
      if (completed) resolveDone();
    }
  };
  const onPod = (type, pod) => {
    if (eventId === undefined) return;
    if (type === 'DELETED') once(`gone-${pod.metadata.uid}`, () => row(undefined, 'Pod', `${pod.metadata.name} evicted and gone`));
  };
  let minHealthy = Infinity;
  const heldBack = new Set();
  const onPdb = (_type, pdb) => {
    if (eventId !== undefined && pdb.status?.currentHealthy !== undefined) minHealthy = Math.min(minHealthy, pdb.status.currentHealthy);
  };
  const eventsSynced = Date.now() + 1000;
  const notified = [];
  receiver.onNotification = (body) => {
    if (eventId === undefined || body.event?.id !== eventId) return;
    notified.push(body.transition);
    once(`notified-${body.id}`, () => row(undefined, 'webhook', `notification ${body.transition} received (${body.apiVersion}): ${shorten(body.summary, 90)}`));
  };
  const onEvent = (_type, event) => {
    if (Date.now() < eventsSynced || eventId === undefined || event.source?.component !== 'nodemeta-controller') return;
    once(`event-${event.metadata.uid}-${event.count ?? 1}`, () => row(undefined, 'Event', `${event.reason}: ${shorten(event.message, 110)}`));
    const blocked = event.reason === 'EvictionBlocked' ? /^pod [^/]+\/(\S+):/.exec(event.message ?? '') : null;
    if (blocked) heldBack.add(blocked[1]);
  };

  const stops = [
    watchLoop(kc, '/apis/nodemeta.io/v1alpha1/nodemetadatas', { fieldSelector: `metadata.name=${ACT_NODE}` }, onNodeMetadata),
    watchLoop(kc, '/api/v1/nodes', { fieldSelector: `metadata.name=${ACT_NODE}` }, onNodeChange),
    watchLoop(kc, '/api/v1/pods', { fieldSelector: `spec.nodeName=${ACT_NODE}` }, onPod),
    watchLoop(kc, `/apis/policy/v1/namespaces/${NAMESPACE}/poddisruptionbudgets`, {}, onPdb),
    watchLoop(kc, '/api/v1/events', { fieldSelector: `involvedObject.kind=Node,involvedObject.name=${ACT_NODE}` }, onEvent),
  ];
  try {
    await sleep(Math.max(0, eventsSynced - Date.now()));
    if (live) header();
    // lifecycle manual: the event stays Scheduled until the demo, playing the platform, starts and removes it.
    t0 = Date.now();
    const event = await control('POST', '/events', { type: 'Reboot', resources: [ACT_NODE], lifecycle: 'manual' });
    eventId = event.EventId;
    once('posted', () => row('event', 'emulator', `the platform schedules Reboot ${eventId} for VM ${event.Resources.join(', ')}, NotBefore ${event.NotBefore} (15 min notice)`));
    // The drain evicts what it may; the ledger pod stays, as DrainAtRisk said. Left alone it would
    // stay until the platform reboots the VM at NotBefore. The operator, alerted, gives ledger a
    // second replica: once that one is Ready elsewhere the PDB allows the eviction.
    await waitFor('the drain to be held back by the ledger PDB', () => [...heldBack].some((name) => name.startsWith('ledger-')), 120_000);
    await sleep(OPERATOR_DELAY_MS);
    kubectl(['scale', 'deployment', 'ledger', '-n', NAMESPACE, '--replicas', '2']);
    once('operator', () => row('operator', 'kubectl', 'scale deployment ledger --replicas 2 (the fix the DrainAtRisk warning asked for)'));
    await withTimeout(approvedSeen, 120_000, 'the approval of the event');
    const state = await control('GET', `/events/${eventId}`);
    once('platform-approved', () => row(undefined, 'emulator', `the event is approved (${state.approvals.map((a) => a.vm).join(', ')}); the platform starts the reboot`));
    await control('POST', `/events/${eventId}/start`);
    await sleep(2000);
    await control('DELETE', `/events/${eventId}`);
    once('removed', () => row(undefined, 'emulator', 'the reboot is done: the platform removes the event from IMDS'));
    await withTimeout(done, 60_000, 'completion and uncordon');
    // The notification of the completion is sent in the background, a moment after.
    await waitFor('the Completed notification', () => notified.includes('Completed'), 10_000).catch(() => undefined);
    await sleep(300);
  } finally {
    for (const stop of stops) stop();
  }
  if (!live) {
    header();
    for (const r of rows.sort((a, b) => a.ms - b.ms)) print(r);
  }
  const when = (key) => rows.find((r) => r.step === key)?.ms;
  const s = (ms) => (ms === undefined ? '?' : `${(ms / 1000).toFixed(1)} s`);
  const after = JSON.parse(kubectl(['get', 'pods', '-n', NAMESPACE, '-l', 'app=checkout', '-o', 'json'])).items;
  console.log(`\n  From the event: cordoned after ${s(when('cordoned'))}, drained after ${s(when('drained'))}, approved after ${s(when('approved'))}, completed after ${s(when('completed'))}, uncordoned after ${s(when('uncordoned'))}`);
  console.log('  (the demo waited 2 s between the platform starting the reboot and removing the event).');
  if (Number.isFinite(minHealthy)) console.log(`  The PodDisruptionBudget held: at least ${minHealthy} of 3 checkout pods stayed healthy throughout.`);
  if (heldBack.size > 0) {
    console.log(`  The Eviction API refused ${[...heldBack].join(', ')} (429: the PDB allowed no disruption) until a replacement`);
    console.log('  was Ready elsewhere; nodemeta retried with jittered backoff (up to 5 s, doubling).');
  } else {
    console.log('  No eviction was refused this time: kwok makes each replacement pod Ready at once, so the PDB allowed');
    console.log('  the next eviction while the API server was still retrying it. When it is slower the API answers 429');
    console.log('  and nodemeta retries the pod with jittered backoff (up to 5 s, doubling).');
  }
  console.log(`  checkout pods now run on: ${[...new Set(after.map((p) => p.spec.nodeName))].sort().join(', ')}`);
  console.log(`  ledger: DrainReady said False (PodDisruptionBudget) before the Reboot was scheduled, DrainAtRisk warned when it was`);
  console.log(`  (${s(rows.find((r) => r.what.startsWith('DrainAtRisk'))?.ms)} after), and the drain held at the ledger pod until the operator scaled it. Nobody`);
  console.log('  acting, the pod would have stayed on the node until the platform rebooted it at NotBefore.');
  console.log(`  The webhook receiver got ${notified.length} notifications from the leader: ${notified.join(', ') || 'none'}.`);
  console.log(`\nkubectl get nmd ${ACT_NODE}`);
  console.log(kubectl(['get', 'nmd', ACT_NODE]).trimEnd().replace(/^/gm, '  '));
}

/** How long the demo, playing the operator, looks at the held-back drain before fixing it. */
const OPERATOR_DELAY_MS = 3000;

/**
 * Before any maintenance: a single-replica Deployment on ACT_NODE whose PodDisruptionBudget allows no
 * disruption. nodemeta says so at once, for every node, without any event pending: DrainReady False
 * with the blocker's kind as the reason, and the pods in status.drainReadiness.
 */
async function notDrainReady() {
  console.log(`\nDrain readiness: a pod that would block a drain of ${ACT_NODE}, before any maintenance.`);
  kubectl(['apply', '-f', '-'], { input: appYaml('ledger', 1, 'minAvailable: 1') });
  await waitFor('the ledger pod Ready and its PDB allowing 0 disruptions', () => {
    const list = JSON.parse(kubectl(['get', 'pods', '-n', NAMESPACE, '-l', 'app=ledger', '-o', 'json'])).items;
    const pdb = JSON.parse(kubectl(['get', 'pdb', 'ledger', '-n', NAMESPACE, '-o', 'json']));
    const ready = list.filter((p) => (p.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True'));
    if (ready.length === 1 && ready[0].spec.nodeName !== ACT_NODE) throw new Error(`the scheduler put the ledger pod on ${ready[0].spec.nodeName}, not ${ACT_NODE}`);
    return ready.length === 1 && pdb.status?.disruptionsAllowed === 0;
  });
  const nmd = await waitFor(`DrainReady False on ${ACT_NODE}`, () => {
    const object = JSON.parse(kubectl(['get', 'nmd', ACT_NODE, '-o', 'json']));
    const condition = (object.status?.conditions ?? []).find((c) => c.type === 'DrainReady');
    return condition?.status === 'False' && condition.reason === 'PodDisruptionBudget' ? object : undefined;
  });
  console.log('  Deployment ledger: 1 replica; PodDisruptionBudget ledger: minAvailable 1 (allows 0 disruptions).');
  console.log('\nkubectl get nmd');
  console.log(kubectl(['get', 'nmd']).trimEnd().replace(/^/gm, '  '));
  const condition = nmd.status.conditions.find((c) => c.type === 'DrainReady');
  console.log(`\n  ${ACT_NODE}: DrainReady ${condition.status}, reason ${condition.reason}: ${condition.message}`);
  for (const blocker of nmd.status.drainReadiness?.blockers ?? []) console.log(`  status.drainReadiness.blockers: ${blocker.pod} (${blocker.reason}): ${blocker.message}`);
  console.log('  (A drain meets the pods of one budget one after another: checkout allows one disruption, so its second and');
  console.log('  third pod here wait for replacements to be Ready elsewhere; the ledger pod waits for a person.)');
}

/**
 * A local webhook receiver standing in for Slack, Teams or an incident tool: it answers 200 and hands
 * each notification (nodemeta's generic JSON) to `onNotification`, which the maintenance act sets.
 */
async function startWebhookReceiver() {
  const receiver = { url: '', onNotification: () => undefined };
  const server = createServer((req, res) => {
    let text = '';
    req.setEncoding('utf8').on('data', (chunk) => (text += chunk));
    req.on('end', () => {
      res.writeHead(200).end('ok');
      try {
        receiver.onNotification(JSON.parse(text));
      } catch {
        // not JSON: not ours
      }
    });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  server.unref();
  receiver.url = `http://127.0.0.1:${server.address().port}/hooks/demo`;
  return receiver;
}

/**
 * demo/controller-config.yaml with a notification sink for the receiver. Its URL is in a file of its
 * own, as the Helm chart mounts a Secret key: the configuration names the file, never the URL.
 */
function withNotifications(receiver) {
  const dir = mkdtempSync(path.join(tmpdir(), 'nodemeta-demo-'));
  writeFileSync(path.join(dir, 'webhook-url'), `${receiver.url}\n`);
  const base = readFileSync(path.join(ROOT, 'demo/controller-config.yaml'), 'utf8');
  const file = path.join(dir, 'controller-config.yaml');
  writeFileSync(file, `${base}notifications:\n  clusterName: nodemeta-demo\n  sinks:\n    - {name: demo-receiver, format: generic, urlFrom: {file: ${path.join(dir, 'webhook-url')}}}\n`);
  return file;
}

/**
 * A watch that survives the client's 30 s idle timeout and server-side closes: it starts again from
 * the last resourceVersion it saw (from scratch after a 410). The first connection lists the
 * current objects as ADDED. Returns a function that stops it.
 */
function watchLoop(kc, apiPath, params, onEvent) {
  let stopped = false;
  let controller;
  let resourceVersion;
  void (async () => {
    while (!stopped) {
      await new Promise((resolve) => {
        const query = { ...params, allowWatchBookmarks: true, ...(resourceVersion === undefined ? {} : { resourceVersion }) };
        new Watch(kc)
          .watch(
            apiPath,
            query,
            (type, obj) => {
              if (type === 'ERROR') {
                resourceVersion = undefined;
                return;
              }
              if (obj?.metadata?.resourceVersion) resourceVersion = obj.metadata.resourceVersion;
              if (type !== 'BOOKMARK') onEvent(type, obj);
            },
            () => resolve(),
          )
          .then((c) => {
            controller = c;
            if (stopped) c.abort();
          }, resolve);
      });
      if (!stopped) await sleep(200);
    }
  })();
  return () => {
    stopped = true;
    controller?.abort();
  };
}

function withTimeout(promise, ms, what) {
  return Promise.race([promise, sleep(ms).then(() => Promise.reject(new Error(`timed out after ${ms / 1000}s waiting for ${what}`)))]);
}

function shorten(text = '', max) {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

/**
 * A Deployment of `replicas` pods preferring the node the demo acts on, and its PodDisruptionBudget
 * (`budget`, e.g. `maxUnavailable: 1`).
 */
function appYaml(name, replicas, budget) {
  return `apiVersion: apps/v1
kind: Deployment
metadata: {name: ${name}, namespace: ${NAMESPACE}}
spec:
  replicas: ${replicas}
  selector: {matchLabels: {app: ${name}}}
  template:
    metadata: {labels: {app: ${name}}}
    spec:
      tolerations: [{key: kwok.x-k8s.io/node, operator: Exists, effect: NoSchedule}]
      affinity:
        nodeAffinity:
          preferredDuringSchedulingIgnoredDuringExecution:
            - weight: 100
              preference: {matchExpressions: [{key: kubernetes.io/hostname, operator: In, values: [${ACT_NODE}]}]}
      containers: [{name: ${name}, image: registry.example/${name}:1}]
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {name: ${name}, namespace: ${NAMESPACE}}
spec:
  ${budget}
  selector: {matchLabels: {app: ${name}}}
`;
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
