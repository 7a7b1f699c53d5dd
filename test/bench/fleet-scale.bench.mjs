#!/usr/bin/env node
/* global process, console, fetch, setTimeout, clearTimeout, AbortSignal */
// nodemeta at fleet scale (issue 9): the real controller process (`node dist/cmd/nodemeta.js
// controller --no-leader-elect`, config `labels: {allowedTags: [team]}`, whatever dist/ holds) against
// a local cluster of N kwok nodes with P pods per node, each node's NodeMetadata status written the
// way its agent writes it (the agent's own code: lib/agent-status.mjs; SSA on /status, field manager
// nodemeta-agent, Azure, zonal, spot, one tag `team`), 32 writers at a time.
//
//   node test/bench/fleet-scale.bench.mjs [--nodes 1000,5000] [--pods-per-node 0,10,30]
//        [--wave 500,1000] [--waves 1] [--controller-args "--workers 8"] [--timeout 900s]
//        [--controller-bin /tmp/old-build/dist/cmd/nodemeta.js] [--controller-identity service-account]
//        [--controller-memory-limit 384Mi|none] [--pod-setup scheduled|bound]
//        [--churn-rate 2] [--churn-nodes 40] [--churn-duration 60s (0: no churn)]
//
// --controller-bin runs another build as the controller (a before/after on one machine); the agent
// side always comes from this tree's dist/. --controller-identity service-account runs it as a
// ServiceAccount (bound to cluster-admin), which API Priority and Fairness puts in workload-low as it
// does the chart's controller; the default admin certificate (system:masters) is exempt from APF.
//
// --controller-memory-limit (default: the chart's controller.resources.limits.memory) runs the
// controller inside a memory cgroup with that limit, as its Pod runs: Node.js sizes its heap from the
// cgroup's limit (384 MiB gives a 259 MiB heap limit), so the RSS figures are the ones a cluster
// sees, and a controller that needs more is OOM-killed here as it would be there (counted). Without
// a writable cgroup memory controller (v1 or v2) it runs unconfined, and says so.
//
// Every (nodes, pods per node) pair is one run on a cluster of its own (scripts/cluster-up.sh in a
// temporary CLUSTER_DIR, stopped after the run, also on Ctrl-C or an error). --wave gives the wave
// size per --nodes entry (500 of 1000, 1000 of 5000; 0 or missing: no wave); a wave runs only where
// pods per node > 0. Figures, per run (all times from the bench's own clock; "seen" = the moment a
// watch event carrying the change reached the bench):
// - setup: cluster-up until every node is Ready; the P×N pods (ceil(P×N / 10,000) Deployments the
//   real scheduler places, --control-plane-qps for kube-controller-manager and kube-scheduler)
//   from the first Deployment created until the Deployments report them all Ready (or no more for
//   3 min: pods marked not Ready when their node's Lease ran late stay so, and are counted); with
//   --pod-setup bound, ReplicaSets whose pods the bench writes already bound to their nodes, P per
//   node (createBoundPods: 150,000 pods through the scheduler would take an hour here); every
//   NodeMetadata created and its status applied (2 writes a node, as an agent's start-up). Nodes a
//   watch saw NotReady while measuring are counted too: if any, the machine was overloaded.
// - cold start: from spawning the controller (after the statuses exist) until a node watch has seen
//   nodemeta.io/fault-domain on every node. RSS steady: VmRSS 10 s (--settle) after that; peak:
//   VmHWM then (and at the end of the run). API requests by verb from the controller's own metric
//   (nodemeta_controller_api_requests_total{verb,code}, else nodemeta_controller_api_writes_total
//   {resource,verb}) and, second column, the API server's apiserver_request_total delta by verb for
//   resources nodes, nodemetadatas, pods and events (not nodes/status, pods/status, pods/binding,
//   which only kwok and the scheduler write), from every client (the controller, the bench's
//   watches, the control plane's own), spawn to steady point.
// - cold-start FLOOR, before the controller starts: a plain client merge-patches the labels the
//   controller will write (its own derivation, keys under the bench's prefix) onto every node, 32 at
//   a time, first PATCH → last seen on the node watch; then they go again. Printed with the cold
//   start's ratio to it.
// - drain readiness (the controller's default config has it on): controller spawned → every
//   NodeMetadata carries the DrainReady condition (a NodeMetadata watch), and when the readiness
//   informers synced (the controller's log). Then steady churn (--churn-*; see churn()): per change
//   (a bare pod created or deleted, a PDB edited), the write answered → the condition seen, p50/p99,
//   and the controller's API requests per change.
// - wave (--waves times; wave k takes the W nodes after wave k-1's, wrapping): first the FLOOR on the
//   same nodes: a plain client (the same HTTP client the writers use) sends JSON merge patches
//   spec.unschedulable=true, 32 at a time; floor = first patch sent until the watch saw the last node
//   cordoned; then it uncordons them. Then a Preempt (NotBefore now + --notice, EventStatus
//   Scheduled, Resources [the VM]) into each wave node's status, the agent's way, 32 writers. Per
//   node: write sent → taint nodemeta.io/scheduled-event seen, write sent → spec.unschedulable seen;
//   p50 and p100 of each. Wave time: first write sent → last cordon seen; ratio = wave time / floor;
//   the controller's own share: last status write answered → last cordon seen.
//   Evictions: delta of nodemeta_controller_evictions_total (result=evicted / every result).
//   Re-evictions: pods created after the first write that were bound to a wave node (pod watch).
//   Pods left: pods on wave nodes, not being deleted, --after-cordon (20 s) after the last cordon.
//   Drained: first write → no pod left on any wave node. Dropped Events: delta of
//   nodemeta_controller_events_dropped_total. 429s: apiserver_request_total{code="429"} delta over
//   the wave, every client (and the controller's own, if its metric has codes). RSS before the first
//   write, after (when pods left is counted), and back at idle: the events removed from the
//   statuses, every wave node uncordoned and untainted, the controller idle (its queue empty and no
//   request for 5 s; at most --idle-timeout).
// At the end ONE markdown table: every figure of every run, the issue's target next to it. Every wait
// is capped (--timeout for the controller's work, --setup-timeout for the cluster and pods): a figure
// not reached says "not reached in N s". The controller's log, cluster-up's output and the control
// plane's logs stay in the printed directory.
import { spawn, spawnSync } from 'node:child_process';
import { createWriteStream, mkdirSync, mkdtempSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { parseDurationMs } from '../../dist/cmd/flags.js';
import { desiredLabels } from '../../dist/controller/decide/labels.js';
import { kubeconfigCredentials } from '../../dist/kube/credentials.js';
import { KubeRestClient } from '../../dist/kube/rest-client.js';
import { SimulatedAzureAgent } from './lib/agent-status.mjs';
import { delta, hasMetric, parseMetrics, sumBy, total } from './lib/prometheus-text.mjs';
import { TrimmedWatch, trimNode, trimPod } from './lib/trimmed-watch.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const NODEMETA = path.join(ROOT, 'dist/cmd/nodemeta.js');
const { values } = parseArgs({
  options: {
    nodes: { type: 'string', default: '1000,5000' },
    'pods-per-node': { type: 'string', default: '0,10,30' },
    wave: { type: 'string', default: '500,1000' },
    waves: { type: 'string', default: '1' },
    notice: { type: 'string', default: '30s' },
    writers: { type: 'string', default: '32' },
    'controller-args': { type: 'string', default: '' },
    'controller-bin': { type: 'string', default: NODEMETA },
    'controller-identity': { type: 'string', default: 'admin' },
    'controller-memory-limit': { type: 'string', default: chartMemoryLimit() },
    'control-plane-qps': { type: 'string', default: '200' },
    settle: { type: 'string', default: '10s' },
    'after-cordon': { type: 'string', default: '20s' },
    timeout: { type: 'string', default: '900s' },
    'idle-timeout': { type: 'string', default: '120s' },
    'setup-timeout': { type: 'string', default: '3600s' },
    'pod-setup': { type: 'string', default: 'scheduled' },
    'churn-rate': { type: 'string', default: '2' },
    'churn-duration': { type: 'string', default: '60s' },
    'churn-nodes': { type: 'string', default: '40' },
  },
});
const list = (text) => text.split(',').map((s) => s.trim()).filter(Boolean).map(Number);
const duration = (name) => {
  const ms = parseDurationMs(values[name]);
  if (ms === undefined) throw new Error(`--${name}: not a duration (${values[name]})`);
  return ms;
};
const NODE_COUNTS = list(values.nodes);
const PODS_PER_NODE = list(values['pods-per-node']);
const WAVE_SIZES = list(values.wave);
const WAVES = Number(values.waves);
const WRITERS = Number(values.writers);
const NOTICE_MS = duration('notice');
const SETTLE_MS = duration('settle');
const AFTER_CORDON_MS = duration('after-cordon');
const TIMEOUT_MS = duration('timeout');
const IDLE_TIMEOUT_MS = duration('idle-timeout');
const SETUP_TIMEOUT_MS = duration('setup-timeout');
const CONTROLLER_ARGS = values['controller-args'].split(/\s+/).filter(Boolean);
const CONTROLLER_BIN = path.resolve(values['controller-bin']);
const IDENTITY = values['controller-identity'];
const MEMORY_LIMIT = values['controller-memory-limit'];
const POD_SETUP = values['pod-setup'];
const CHURN_RATE = Number(values['churn-rate']);
const CHURN_MS = duration('churn-duration');
const CHURN_NODES = Number(values['churn-nodes']);
if (!['scheduled', 'bound'].includes(POD_SETUP)) throw new Error('--pod-setup: scheduled or bound');
if (MEMORY_LIMIT !== 'none' && !/^\d+(Ki|Mi|Gi)$/.test(MEMORY_LIMIT)) throw new Error(`--controller-memory-limit: a quantity such as 384Mi, or none (got ${MEMORY_LIMIT})`);
/** Made when the bench starts (main). */
let MEMORY_CGROUP;
if (!['admin', 'service-account'].includes(IDENTITY)) throw new Error('--controller-identity: admin or service-account');
if (NODE_COUNTS.some((n) => !(n >= 1 && n <= 5000)) || PODS_PER_NODE.some((p) => !(p >= 0 && p <= 100))) {
  throw new Error('--nodes: 1..5000 each; --pods-per-node: 0..100 each');
}

const FAULT_DOMAIN = 'nodemeta.io/fault-domain';
const SCHEDULED_EVENT_TAINT = 'nodemeta.io/scheduled-event';
const NAMESPACE = 'fleet-bench';
const CHURN_NAMESPACE = 'fleet-bench-churn';
/** The floor's labels: the controller's label keys under a prefix of the bench's own (no ownership conflict). */
const FLOOR_PREFIX = 'floor-bench.example/';
const FLOOR_PROBE = `${FLOOR_PREFIX}nodemeta.io.fault-domain`;
const DRAIN_READY = 'DrainReady';
const PODS_PER_DEPLOYMENT = 10_000;
const STALL_MS = 180_000;
const WORK_DIR = mkdtempSync(path.join(tmpdir(), 'nodemeta-bench-fleet-scale-'));
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const log = (text) => console.log(`${new Date().toISOString().slice(11, 19)} [fleet-scale] ${text}`);
const secs = (ms) => `${(ms / 1000).toFixed(1)} s`;
const notReached = (ms) => `not reached in ${Math.round(ms / 1000)} s`;

// ---- what runs now, so that Ctrl-C, an error or a timeout stops exactly that ----------------------
const live = { children: new Set(), watches: new Set(), clusters: new Set(), runs: [], started: Date.now() };

/** The chart's memory limit for the controller (values.yaml), e.g. `384Mi`. */
function chartMemoryLimit() {
  const chartValues = parseYaml(readFileSync(path.join(ROOT, 'charts/nodemeta/values.yaml'), 'utf8'));
  return String(chartValues?.controller?.resources?.limits?.memory ?? 'none');
}

/** A memory cgroup of its own for the controller, limited to `limit` (`384Mi`); undefined for `none` or where none can be made. */
function memoryCgroup(limit) {
  if (limit === 'none') return undefined;
  const units = { Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30 };
  const match = /^(\d+)(Ki|Mi|Gi)$/.exec(limit);
  const bytes = Number(match[1]) * units[match[2]];
  const name = `nodemeta-bench-${process.pid}`;
  for (const [root, file, v2] of [['/sys/fs/cgroup/memory', 'memory.limit_in_bytes', false], ['/sys/fs/cgroup', 'memory.max', true]]) {
    const dir = path.join(root, name);
    try {
      if (v2 && !readFileSync(path.join(root, 'cgroup.controllers'), 'utf8').includes('memory')) continue;
      mkdirSync(dir);
      writeFileSync(path.join(dir, file), String(bytes));
      return { dir, limit, bytes, v2 };
    } catch {
      try {
        rmdirSync(dir);
      } catch {
        // never made
      }
    }
  }
  return undefined;
}

/** OOM kills in the controller's cgroup so far. */
function oomKills() {
  if (!MEMORY_CGROUP) return undefined;
  try {
    const text = readFileSync(path.join(MEMORY_CGROUP.dir, MEMORY_CGROUP.v2 ? 'memory.events' : 'memory.oom_control'), 'utf8');
    return Number(/^oom_kill (\d+)/m.exec(text)?.[1] ?? 0);
  } catch {
    return undefined;
  }
}

function stopEverything() {
  for (const w of live.watches) w.stop();
  live.watches.clear();
  for (const child of live.children) if (running(child.pid)) child.kill('SIGTERM');
  const deadline = Date.now() + 10_000;
  for (const child of live.children) {
    while (running(child.pid) && Date.now() < deadline) spawnSync('sleep', ['0.1']);
    if (running(child.pid)) child.kill('SIGKILL');
  }
  live.children.clear();
  for (const dir of live.clusters) stopCluster(dir);
  if (MEMORY_CGROUP) {
    try {
      rmdirSync(MEMORY_CGROUP.dir);
    } catch {
      // a process still in it, or gone already
    }
  }
}

/** From /proc, not child.exitCode: this runs synchronously (in a signal handler), so no exit event arrives. */
function running(pid) {
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

function stopCluster(dir) {
  if (!live.clusters.delete(dir)) return;
  log(`stopping the cluster in ${dir}`);
  spawnSync(path.join(ROOT, 'scripts/cluster-down.sh'), [], {
    env: { ...process.env, CLUSTER_DIR: dir, CLUSTER_LOGS_ARCHIVE: path.join(WORK_DIR, 'cluster-logs') },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
}

for (const [signal, code] of [['SIGINT', 130], ['SIGTERM', 143]]) {
  process.once(signal, () => {
    log(`${signal}: stopping the controller and the cluster`);
    stopEverything();
    printSummary(`stopped by ${signal}`);
    process.exit(code);
  });
}

// ---- processes --------------------------------------------------------------------------------
/** Runs a command to its end without blocking the event loop (watches keep timestamping). */
function run(cmd, args, { env = {}, logFile, input } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: ROOT, stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'], env: { ...process.env, ...env } });
    live.children.add(child);
    let out = '';
    let err = '';
    const file = logFile ? createWriteStream(logFile, { flags: 'a' }) : undefined;
    child.stdout.on('data', (d) => {
      out += d;
      file?.write(d);
    });
    child.stderr.on('data', (d) => {
      err += d;
      file?.write(d);
    });
    if (input !== undefined) child.stdin.end(input);
    child.on('error', reject);
    child.on('close', (code) => {
      live.children.delete(child);
      file?.end();
      if (code === 0) resolve(out);
      else reject(new Error(`${path.basename(cmd)} ${args.slice(0, 3).join(' ')} exited ${code}: ${(err || out).slice(-1500)}`));
    });
  });
}

function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** VmRSS and VmHWM of a process in MiB (undefined once it is gone). */
function memoryMiB(pid) {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const field = (name) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1]) / 1024;
    return { rss: field('VmRSS'), hwm: field('VmHWM') };
  } catch {
    return undefined;
  }
}
const mib = (m) => (m === undefined ? 'gone' : `${Math.round(m)} MiB`);

/** fn over items, at most `limit` at once, in order of items. */
async function forEachLimit(items, limit, fn) {
  let next = 0;
  const worker = async (slot) => {
    while (next < items.length) {
      const i = next++;
      await fn(items[i], slot, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, (_, slot) => worker(slot)));
}

/** Resolves with the time `pred()` first held (checked every `everyMs`), or undefined after `ms`. */
async function pollUntil(pred, ms, what, everyMs = 1000) {
  for (const deadline = Date.now() + ms; ; await sleep(everyMs)) {
    if (pred()) return Date.now();
    if (Date.now() >= deadline) {
      log(`${what}: ${notReached(ms)}`);
      return undefined;
    }
  }
}

/** Resolves with the arrival time, or undefined after `ms` (then the figure reads "not reached"). */
async function within(watch, pred, ms, what) {
  try {
    return await watch.until(pred, ms, what);
  } catch (err) {
    log(`${what}: ${err.message}`);
    return undefined;
  }
}

function percentile(samples, p) {
  const sorted = [...samples].sort((a, b) => a - b);
  if (sorted.length === 0) return undefined;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

/** "p50 1.2 s, p100 4.5 s" over the nodes that got there; how many did not within the cap. */
function p50p100(samples, expected, capMs) {
  if (samples.length === 0) return notReached(capMs);
  const missing = expected - samples.length;
  const text = `p50 ${secs(percentile(samples, 50))}, p100 ${missing > 0 ? `> ${secs(capMs)}` : secs(percentile(samples, 100))}`;
  return missing > 0 ? `${text} (${missing} of ${expected} ${notReached(capMs)})` : text;
}

/** `apply 120, create 60` (label names dropped: `verb=apply,code=200` reads `apply 200`). */
const formatCounts = (map) =>
  [...map.entries()]
    .sort((a, b) => b[1] - a[1])
    .map(([k, v]) => `${k.split(',').map((kv) => kv.slice(kv.indexOf('=') + 1)).join(' ') || 'all'} ${Math.round(v)}`)
    .join(', ') || 'none';

// ---- one cluster and its controller -----------------------------------------------------------
class FleetRun {
  constructor(nodes, podsPerNode, waveSize) {
    this.nodes = nodes;
    this.podsPerNode = podsPerNode;
    this.waveSize = waveSize;
    this.label = `${nodes} nodes × ${podsPerNode} pods`;
    this.slug = `${nodes}x${podsPerNode}`;
    this.clusterDir = path.join(WORK_DIR, `cluster-${this.slug}`);
    this.figures = new Map();
  }

  figure(name, value, target = '') {
    this.figures.set(name, { value, target });
    log(`${this.slug}: ${name}: ${value}`);
  }

  async main() {
    await this.startCluster();
    await this.createPods();
    await this.writeStatuses();
    await this.startWatches();
    await this.coldFloor();
    await this.coldStart();
    if (CHURN_MS > 0 && CHURN_RATE > 0) await this.churn();
    if (this.waveSize > 0 && this.podsPerNode > 0) {
      for (let k = 1; k <= WAVES; k++) await this.wave(k);
    }
    const memory = memoryMiB(this.controller.pid);
    this.figure('controller peak RSS over the whole run (VmHWM)', mib(memory?.hwm));
    this.figure('controller memory limit (its own cgroup, as the chart sets it) / OOM kills', MEMORY_CGROUP ? `${MEMORY_CGROUP.limit} / ${oomKills() ?? '?'}` : 'none (unconfined)');
    this.figure('nodes seen NotReady while measuring (Leases late: machine overloaded)', String(this.notReadyNodes.size), '0 (else the run is suspect)');
  }

  async startCluster() {
    const started = Date.now();
    const args = ['--nodes', String(this.nodes), '--timeout', String(Math.round(SETUP_TIMEOUT_MS / 1000))];
    if (this.podsPerNode > 0) args.push('--control-plane-qps', values['control-plane-qps']);
    log(`${this.slug}: cluster-up ${args.join(' ')} (output in ${WORK_DIR}/cluster-up-${this.slug}.log)`);
    live.clusters.add(this.clusterDir);
    await run(path.join(ROOT, 'scripts/cluster-up.sh'), args, { env: { CLUSTER_DIR: this.clusterDir }, logFile: path.join(WORK_DIR, `cluster-up-${this.slug}.log`) });
    this.figure('setup: cluster-up until every node is Ready', secs(Date.now() - started));
    this.cluster = JSON.parse(readFileSync(path.join(this.clusterDir, 'cluster.json'), 'utf8'));
    this.kubeconfig = this.cluster.kubeconfig;
    this.kubeConfig = new KubeConfig();
    this.kubeConfig.loadFromFile(this.kubeconfig);
    this.credentials = await kubeconfigCredentials(this.kubeconfig);
    this.clients = Array.from({ length: WRITERS }, () => new KubeRestClient(this.credentials, { userAgent: 'nodemeta-fleet-bench' }));
    this.api = this.clients[0];
    await this.kubectl('apply', '--server-side', '-f', path.join(ROOT, 'crds'));
    await this.kubectl('wait', '--for=condition=Established', 'crd/nodemetadatas.nodemeta.io', '--timeout=60s');
    const nodeList = await this.api.get('/api/v1/nodes', { query: { labelSelector: 'type=kwok' } });
    this.nodeNames = nodeList.items.map((n) => n.metadata.name).sort();
    this.agents = new Map(this.nodeNames.map((name) => [name, new SimulatedAzureAgent(name, this.cluster.region)]));
  }

  kubectl(...args) {
    return run(path.join(this.cluster.binDir, 'kubectl'), ['--kubeconfig', this.kubeconfig, ...args]);
  }

  async createPods() {
    if (this.podsPerNode === 0) return;
    const totalPods = this.podsPerNode * this.nodes;
    const deployments = Math.ceil(totalPods / PODS_PER_DEPLOYMENT);
    await this.api.create('/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: NAMESPACE } });
    for (const deadline = Date.now() + 60_000; ; await sleep(500)) {
      const ok = await this.api.get(`/api/v1/namespaces/${NAMESPACE}/serviceaccounts/default`).then(() => true, () => false);
      if (ok) break;
      if (Date.now() > deadline) throw new Error(`ServiceAccount ${NAMESPACE}/default not created in 60 s`);
    }
    const started = Date.now();
    const kind = POD_SETUP === 'bound' ? 'replicasets' : 'deployments';
    if (POD_SETUP === 'bound') {
      await this.createBoundPods(totalPods, deployments);
    } else {
      for (let d = 0; d < deployments; d++) {
        const replicas = Math.floor(totalPods / deployments) + (d < totalPods % deployments ? 1 : 0);
        await this.api.create(`/apis/apps/v1/namespaces/${NAMESPACE}/deployments`, deployment(`load-${d}`, replicas));
      }
      log(`${this.slug}: ${deployments} Deployments created for ${totalPods} pods; waiting until they are Ready`);
    }
    let ready = 0;
    let lastLog = Date.now();
    let progressAt = Date.now();
    let stalled = false;
    for (const deadline = started + SETUP_TIMEOUT_MS; Date.now() < deadline; await sleep(2000)) {
      const list = await this.api.get(`/apis/apps/v1/namespaces/${NAMESPACE}/${kind}`).catch(() => undefined);
      const now = list ? list.items.reduce((sum, d) => sum + (d.status?.readyReplicas ?? 0), 0) : ready;
      if (now > ready) progressAt = Date.now();
      ready = now;
      if (ready >= totalPods) break;
      // A pod marked not Ready because its node's Lease ran late stays so (kwok does not mark it
      // Ready again): stop waiting for those, and say how many there are.
      if (Date.now() - progressAt > STALL_MS) {
        stalled = true;
        break;
      }
      if (Date.now() - lastLog > 30_000) {
        log(`${this.slug}:   ${ready} of ${totalPods} pods Ready after ${secs(Date.now() - started)}`);
        lastLog = Date.now();
      }
    }
    const how = POD_SETUP === 'bound'
      ? `${deployments} ReplicaSet${deployments > 1 ? 's' : ''}, pods created bound to their nodes by the bench, ${WRITERS} writers`
      : `${deployments} Deployment${deployments > 1 ? 's' : ''}, --control-plane-qps ${values['control-plane-qps']}`;
    const name = `setup: ${totalPods} pods (${how}) created until all Ready`;
    const notReadyEvents = (await this.api.get(`/api/v1/namespaces/${NAMESPACE}/events`, { query: { fieldSelector: 'reason=NodeNotReady' } })).items.length;
    const lateLeases = notReadyEvents ? `; ${notReadyEvents} pods marked not Ready because their node's Lease ran late` : '';
    this.figure(name, `${ready >= totalPods ? secs(Date.now() - started) : `${ready} of ${totalPods} Ready, ${stalled ? `no progress for ${secs(STALL_MS)}` : notReached(SETUP_TIMEOUT_MS)}`}${lateLeases}`);
    this.podsReady = ready;
  }

  /**
   * --pod-setup bound: the scheduler places about 40 pods a second on this machine, which makes
   * 150,000 pods an hour's setup. Instead the bench writes the pods itself, P on each node
   * (spec.nodeName set, as the scheduler's binding would), each owned by one of the ReplicaSets
   * (controller ownerReference), which exist first with their final replica counts: the ReplicaSet
   * controller counts the pods as its own, creates none, and recreates (through the scheduler) the
   * ones a drain evicts, as for a Deployment's pods. While the bench writes them, a
   * ValidatingAdmissionPolicy refuses the pods the ReplicaSet controller would create meanwhile (those
   * with a generateName), so it cannot race the bench; it is removed before anything is measured.
   * (Orphan pods for the ReplicaSets to adopt would do without the policy, but kube-controller-manager
   * adopts them one patch at a time: minutes for 30,000 pods.)
   */
  async createBoundPods(totalPods, replicaSets) {
    const admission = '/apis/admissionregistration.k8s.io/v1';
    await this.api.create(`${admission}/validatingadmissionpolicies`, holdPolicy());
    await this.api.create(`${admission}/validatingadmissionpolicybindings`, holdPolicyBinding());
    // The API server loads policies asynchronously: wait until it refuses a generated pod (dry run).
    for (const deadline = Date.now() + 60_000; ; await sleep(500)) {
      const refused = await this.api.create(`/api/v1/namespaces/${NAMESPACE}/pods`, { apiVersion: 'v1', kind: 'Pod', metadata: { generateName: 'probe-', namespace: NAMESPACE }, spec: loadPodSpec() }, { query: { dryRun: 'All' } }).then(() => false, (err) => /bench writes/.test(err.message));
      if (refused) break;
      if (Date.now() > deadline) throw new Error('the setup admission policy did not take effect in 60 s');
    }
    const nodes = [...this.agents.keys()];
    const pods = nodes.flatMap((node, n) => Array.from({ length: this.podsPerNode }, (_, index) => ({ node, index, set: Math.min(replicaSets - 1, Math.floor((n * this.podsPerNode + index) / PODS_PER_DEPLOYMENT)) })));
    const sets = [];
    for (let d = 0; d < replicaSets; d++) {
      const count = pods.filter((pod) => pod.set === d).length;
      const rs = await this.api.create(`/apis/apps/v1/namespaces/${NAMESPACE}/replicasets`, replicaSet(`load-${d}`, count));
      sets.push({ name: rs.metadata.name, uid: rs.metadata.uid });
    }
    log(`${this.slug}: ${replicaSets} ReplicaSets created; writing their ${totalPods} pods bound to their nodes (${WRITERS} writers)`);
    let written = 0;
    let lastLog = Date.now();
    await forEachLimit(pods, WRITERS, async ({ node, index, set }, slot) => {
      for (let attempt = 1; ; attempt++) {
        try {
          await this.clients[slot].create(`/api/v1/namespaces/${NAMESPACE}/pods`, boundPod(`${sets[set].name}-${node}-${index}`, node, sets[set]));
          break;
        } catch (err) {
          if (/409|AlreadyExists/.test(err.message)) break;
          if (attempt === 5) throw err;
          await sleep(200 * attempt * Math.random());
        }
      }
      if (++written % 10_000 === 0 || Date.now() - lastLog > 30_000) {
        log(`${this.slug}:   ${written} of ${totalPods} pods written`);
        lastLog = Date.now();
      }
    });
    await this.kubectl('delete', 'validatingadmissionpolicybinding', HOLD_POLICY);
    await this.kubectl('delete', 'validatingadmissionpolicy', HOLD_POLICY);
    log(`${this.slug}: every pod written, the setup admission policy removed; waiting until they are Ready`);
  }

  /** Every node's NodeMetadata created and its status applied as its agent would, WRITERS at a time. */
  async writeStatuses() {
    const started = Date.now();
    let failed = 0;
    await forEachLimit([...this.agents.values()], WRITERS, async (agent, slot) => {
      const client = this.clients[slot];
      for (let attempt = 1; ; attempt++) {
        try {
          await agent.ensure(client);
          await agent.publish(client);
          return;
        } catch (err) {
          if (attempt === 5) {
            failed++;
            log(`${agent.nodeName}: status not written: ${err.message}`);
            return;
          }
          await sleep(200 * attempt * Math.random());
        }
      }
    });
    this.figure(`setup: ${this.nodes} NodeMetadata created + status applied (agent writes, ${WRITERS} writers)`, `${secs(Date.now() - started)}${failed ? ` (${failed} failed)` : ''}`);
  }

  async startWatches() {
    const trim = trimNode(FAULT_DOMAIN);
    this.nodeWatch = new TrimmedWatch(this.kubeConfig, '/api/v1/nodes', { labelSelector: 'type=kwok' }, (node) => ({ ...trim(node), floored: node.metadata?.labels?.[FLOOR_PROBE] !== undefined }));
    live.watches.add(this.nodeWatch);
    // A node NotReady while measuring means the machine could not even renew Leases in time: the
    // figures of that run are suspect, and the table says so.
    this.notReadyNodes = new Set();
    this.nodeWatch.onChange((type, node) => {
      if (type !== 'DELETED' && !node.ready) this.notReadyNodes.add(node.metadata.name);
    });
    await this.nodeWatch.start();
    // Drain readiness as a user sees it: the DrainReady condition of every NodeMetadata.
    this.nmdWatch = new TrimmedWatch(this.kubeConfig, '/apis/nodemeta.io/v1alpha1/nodemetadatas', {}, trimDrainReady);
    live.watches.add(this.nmdWatch);
    await this.nmdWatch.start();
    if (this.podsPerNode > 0 && this.waveSize > 0) {
      this.podWatch = new TrimmedWatch(this.kubeConfig, `/api/v1/namespaces/${NAMESPACE}/pods`, {}, trimPod);
      live.watches.add(this.podWatch);
      await this.podWatch.start();
    }
  }

  async controllerKubeconfig() {
    if (IDENTITY === 'admin') return this.kubeconfig;
    // A ServiceAccount (bound to cluster-admin) lands in APF's workload-low priority level, as the
    // chart's controller does; the admin certificate (system:masters) is exempt from APF.
    const sa = 'nodemeta-bench-controller';
    await this.kubectl('create', 'serviceaccount', sa, '-n', 'default');
    await this.kubectl('create', 'clusterrolebinding', sa, '--clusterrole=cluster-admin', `--serviceaccount=default:${sa}`);
    const token = (await this.kubectl('create', 'token', sa, '-n', 'default', '--duration=48h')).trim();
    const admin = parseYaml(readFileSync(this.kubeconfig, 'utf8'));
    admin.users = [{ name: sa, user: { token } }];
    admin.contexts = [{ name: 'bench', context: { cluster: admin.clusters[0].name, user: sa } }];
    admin['current-context'] = 'bench';
    const file = path.join(WORK_DIR, `controller-${this.slug}.kubeconfig`);
    writeFileSync(file, stringifyYaml(admin), { mode: 0o600 });
    return file;
  }

  async startController() {
    const config = path.join(WORK_DIR, 'controller-config.yaml');
    writeFileSync(config, 'labels:\n  allowedTags: [team]\n');
    this.metricsPort = await freePort();
    const args = ['controller', '--no-leader-elect', '--config', config, '--kubeconfig', await this.controllerKubeconfig(), '--metrics-addr', `127.0.0.1:${this.metricsPort}`, ...CONTROLLER_ARGS];
    const logFile = path.join(WORK_DIR, `controller-${this.slug}.log`);
    this.controllerLog = logFile;
    log(`${this.slug}: nodemeta ${args.join(' ')} (log: ${logFile})`);
    const started = Date.now();
    const env = { ...process.env, NODE_NAME: '', POD_NAME: '', POD_NAMESPACE: '' };
    // In its memory cgroup (the shell joins it, then becomes the controller: one pid).
    const child = MEMORY_CGROUP
      ? spawn('/bin/sh', ['-c', 'echo $$ > "$NODEMETA_BENCH_CGROUP/cgroup.procs" && exec "$@"', 'sh', process.execPath, CONTROLLER_BIN, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...env, NODEMETA_BENCH_CGROUP: MEMORY_CGROUP.dir } })
      : spawn(process.execPath, [CONTROLLER_BIN, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env });
    live.children.add(child);
    const out = createWriteStream(logFile);
    child.stdout.pipe(out, { end: false });
    child.stderr.pipe(out, { end: false });
    child.on('exit', (code, signal) => {
      live.children.delete(child);
      if (!this.stopping) log(`${this.slug}: the controller exited (${signal ?? code}); see ${logFile}`);
    });
    this.controller = child;
    return started;
  }

  async stopController() {
    if (!this.controller || this.controller.exitCode !== null) return;
    this.stopping = true;
    const exited = new Promise((resolve) => this.controller.once('exit', resolve));
    this.controller.kill('SIGTERM');
    const timer = setTimeout(() => this.controller.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  }

  async controllerMetrics() {
    for (let attempt = 0; attempt < 20; attempt++) {
      try {
        const res = await fetch(`http://127.0.0.1:${this.metricsPort}/metrics`, { signal: AbortSignal.timeout(10_000) });
        if (res.ok) return parseMetrics(await res.text());
      } catch {
        // not listening yet, or busy
      }
      await sleep(500);
    }
    return [];
  }

  async apiServerMetrics() {
    return parseMetrics(await this.kubectl('get', '--raw', '/metrics'));
  }

  /** The controller's API requests by verb (and code) from its own metrics, whichever it has. */
  static controllerRequests(samples) {
    if (hasMetric(samples, 'nodemeta_controller_api_requests_total')) {
      return { metric: 'api_requests_total', byVerb: sumBy(samples, 'nodemeta_controller_api_requests_total', ['verb']), throttled: total(samples, 'nodemeta_controller_api_requests_total', (l) => l.code === '429') };
    }
    return { metric: 'api_writes_total (writes only)', byVerb: sumBy(samples, 'nodemeta_controller_api_writes_total', ['resource', 'verb']), throttled: undefined };
  }

  /**
   * `APPLY nodemetadatas/status` → count, for the resources the controller works on; not what only
   * kubelets (kwok) and the scheduler write: nodes/status, pods/status, pods/binding.
   */
  static apiServerRequests(samples) {
    const resources = new Set(['nodes', 'nodemetadatas', 'pods', 'events']);
    const notOurs = new Set(['nodes/status', 'pods/status', 'pods/binding']);
    const sums = sumBy(samples, 'apiserver_request_total', ['verb', 'resource', 'subresource'], (l) => resources.has(l.resource) && !notOurs.has(`${l.resource}/${l.subresource}`));
    return new Map([...sums].map(([key, n]) => {
      const [verb, resource, subresource] = key.split(',').map((kv) => kv.slice(kv.indexOf('=') + 1));
      return [`${verb} ${resource}${subresource ? `/${subresource}` : ''}`, n];
    }));
  }

  async coldStart() {
    const apiBefore = await this.apiServerMetrics();
    const labelled = new Set(this.nodeWatch.list().filter((n) => n.labelled).map((n) => n.metadata.name));
    if (labelled.size > 0) log(`${this.slug}: ${labelled.size} nodes carry ${FAULT_DOMAIN} before the controller starts`);
    const stop = this.nodeWatch.onChange((type, node) => {
      if (type !== 'DELETED' && node.labelled) labelled.add(node.metadata.name);
    });
    const evaluated = new Map();
    const stopEvaluated = this.nmdWatch.onChange((type, nmd, arrival) => {
      if (type !== 'DELETED' && nmd.drainReady !== undefined && !evaluated.has(nmd.metadata.name)) evaluated.set(nmd.metadata.name, arrival);
    });
    const started = await this.startController();
    const done = await within(this.nodeWatch, () => labelled.size >= this.nodes, TIMEOUT_MS, `every node labelled ${FAULT_DOMAIN}`);
    stop();
    this.figure(`cold start: controller spawned → every node has ${FAULT_DOMAIN}`, done ? secs(done - started) : `${labelled.size} of ${this.nodes}, ${notReached(TIMEOUT_MS)}`, this.nodes >= 5000 ? '≤ 60 s (5,000 nodes)' : '');
    const coldMs = done ? done - started : undefined;
    this.figure(`cold start / FLOOR (${WRITERS} writers, same labels)`, coldMs !== undefined && this.floorMs ? `${(coldMs / this.floorMs).toFixed(2)}×` : 'n/a', '≤ 1.2× (5,000 × 30)');
    const allEvaluated = await within(this.nmdWatch, () => evaluated.size >= this.nodes, Math.max(1, started + TIMEOUT_MS - Date.now()), `every NodeMetadata with ${DRAIN_READY}`);
    stopEvaluated();
    const readyNow = this.nmdWatch.list().filter((n) => n.drainReady?.status === 'True').length;
    this.figure(`cold start: controller spawned → every node has its ${DRAIN_READY} condition (NodeMetadata watch)`, allEvaluated ? `${secs(allEvaluated - started)} (${readyNow} True, ${this.nodes - readyNow} False)` : `${evaluated.size} of ${this.nodes}, ${notReached(TIMEOUT_MS)}`, '≤ 120 s (5,000 × 30)');
    const synced = controllerLogLine(this.controllerLog, 'drain readiness caches synced');
    if (synced) this.figure('cold start: of which the readiness informers\' lists (pods + PDBs, controller log)', `${synced.pods} pods listed in ${secs(synced.listMs)}, synced ${secs(Date.parse(synced.timestamp) - started)} after spawn`);
    await sleep(SETTLE_MS);
    const memory = memoryMiB(this.controller.pid);
    const target = this.nodes >= 5000 ? '≤ 300 MiB (5,000 nodes, 150,000 pods); flat in pods per node' : 'flat in pods per node';
    this.figure(`cold start: controller RSS steady (converged + ${secs(SETTLE_MS)})`, mib(memory?.rss), target);
    this.figure('cold start: controller RSS peak so far (VmHWM)', mib(memory?.hwm), target);
    const own = FleetRun.controllerRequests(await this.controllerMetrics());
    const apiAfter = await this.apiServerMetrics();
    this.figure(`cold start: controller's API requests (its ${own.metric})`, formatCounts(own.byVerb));
    this.figure('cold start: API server requests, every client (nodes, nodemetadatas, pods, events)', formatCounts(delta(FleetRun.apiServerRequests(apiBefore), FleetRun.apiServerRequests(apiAfter))));
    this.figure('cold start: Events dropped', String(total(await this.controllerMetrics(), 'nodemeta_controller_events_dropped_total')));
  }

  /**
   * The cold-start FLOOR, before the controller starts: a plain client (the same HTTP client the
   * writers use) merge-patches onto every node the labels the controller will write (the same
   * count and size: the controller's keys under the bench's own prefix, so that nothing conflicts
   * with the controller's ownership later), WRITERS at a time; floor = first PATCH sent until the
   * node watch has seen every node labelled. Then the labels go again.
   */
  async coldFloor() {
    const labelsOf = (name) => floorLabels(this.expectedLabels(name));
    const seen = this.firstSeen(this.nodeNames, (n) => n.floored);
    const started = Date.now();
    await forEachLimit(this.nodeNames, WRITERS, (name, slot) => this.clients[slot].mergePatch(`/api/v1/nodes/${name}`, { metadata: { labels: labelsOf(name) } }));
    const answered = Date.now();
    const all = await within(this.nodeWatch, () => seen.seen.size >= this.nodes, TIMEOUT_MS, 'the floor\'s labels');
    seen.stop();
    this.floorMs = all ? Math.max(...seen.seen.values()) - started : undefined;
    const count = Object.keys(labelsOf(this.nodeNames[0])).length;
    this.figure(`cold start FLOOR: plain client patches the same ${count} labels onto every node (${WRITERS} at a time): first PATCH → last seen`, this.floorMs === undefined ? notReached(TIMEOUT_MS) : `${secs(this.floorMs)} (all PATCHes answered in ${secs(answered - started)})`);
    const removal = Object.fromEntries(Object.keys(labelsOf(this.nodeNames[0])).map((key) => [key, null]));
    await forEachLimit(this.nodeNames, WRITERS, (name, slot) => this.clients[slot].mergePatch(`/api/v1/nodes/${name}`, { metadata: { labels: removal } }));
    await within(this.nodeWatch, () => this.nodeNames.every((n) => !this.nodeWatch.get(n)?.floored), TIMEOUT_MS, 'the floor\'s labels removed');
  }

  /** The labels the controller writes for this node (its own derivation, over the status the agent wrote; the bench's config allows tag `team`). */
  expectedLabels(name) {
    return desiredLabels(this.agents.get(name).status(), { allowedTags: ['team'], standardTopology: false }).labels;
  }

  /**
   * Drain readiness under steady churn, after the cold start: on CHURN_NODES nodes, each with one
   * pod that a PodDisruptionBudget of its own selects (the pod owned by a ConfigMap: managed, and
   * no controller recreates or deletes it), changes at CHURN_RATE a second, round robin over the
   * nodes, each flipping that node's DrainReady: a bare pod created on it (False, Unmanaged), that
   * pod deleted (True), the PDB edited to minAvailable 1 (False, PodDisruptionBudget: the
   * disruption controller writes disruptionsAllowed 0 first) and back to 0 (True). A node's next
   * change waits until its last one showed. Per change: the write answered (the API server has
   * accepted it) → the NodeMetadata watch sees the condition with the expected status; for a PDB
   * edit, how much of it the disruption controller took (write answered → PDB status seen). API
   * requests per change: the controller's own metric over the churn, divided by the changes.
   */
  async churn() {
    const nodes = this.nodeNames.slice(-Math.min(CHURN_NODES, this.nodes));
    const core = this.kubeConfig.makeApiClient(CoreV1Api);
    await this.api.create('/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: CHURN_NAMESPACE } });
    for (const deadline = Date.now() + 60_000; ; await sleep(500)) {
      const ok = await this.api.get(`/api/v1/namespaces/${CHURN_NAMESPACE}/serviceaccounts/default`).then(() => true, () => false);
      if (ok) break;
      if (Date.now() > deadline) throw new Error(`ServiceAccount ${CHURN_NAMESPACE}/default not created in 60 s`);
    }
    const owner = await this.api.create(`/api/v1/namespaces/${CHURN_NAMESPACE}/configmaps`, { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'churn-owner' } });
    this.pdbWatch = new TrimmedWatch(this.kubeConfig, `/apis/policy/v1/namespaces/${CHURN_NAMESPACE}/poddisruptionbudgets`, {}, (pdb) => ({
      metadata: { name: pdb.metadata?.name, namespace: pdb.metadata?.namespace, resourceVersion: pdb.metadata?.resourceVersion },
      minAvailable: pdb.spec?.minAvailable,
      disruptionsAllowed: pdb.status?.disruptionsAllowed,
    }));
    live.watches.add(this.pdbWatch);
    await this.pdbWatch.start();
    const setupStarted = Date.now();
    await forEachLimit(nodes, WRITERS, async (node, slot) => {
      const labels = { 'churn-node': node };
      await this.clients[slot].create(`/apis/policy/v1/namespaces/${CHURN_NAMESPACE}/poddisruptionbudgets`, { apiVersion: 'policy/v1', kind: 'PodDisruptionBudget', metadata: { name: `churn-${node}` }, spec: { minAvailable: 0, selector: { matchLabels: labels } } });
      await this.clients[slot].create(`/api/v1/namespaces/${CHURN_NAMESPACE}/pods`, {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: `guarded-${node}`, labels, ownerReferences: [{ apiVersion: 'v1', kind: 'ConfigMap', name: 'churn-owner', uid: owner.metadata.uid, controller: true }] },
        spec: { ...loadPodSpec(), nodeName: node },
      });
    });
    // minAvailable, not maxUnavailable: the disruption controller computes maxUnavailable from the
    // owner's scale, which a ConfigMap has not (it would allow 0 disruptions whatever the value).
    await within(this.pdbWatch, (w) => nodes.every((node) => w.get(`churn-${node}`, CHURN_NAMESPACE)?.disruptionsAllowed === 1), TIMEOUT_MS, 'the churn PDBs allowing 1 disruption');
    const drainReady = (node) => this.nmdWatch.get(node)?.drainReady?.status === 'True';
    const ready = await within(this.nmdWatch, () => nodes.every(drainReady), TIMEOUT_MS, `the ${nodes.length} churn nodes DrainReady`);
    log(`${this.slug}: churn setup (${nodes.length} nodes, a guarded pod and a PDB each) ${ready ? `DrainReady True after ${secs(ready - setupStarted)}` : 'not all DrainReady'}; churn at ${CHURN_RATE}/s for ${secs(CHURN_MS)}`);
    await this.waitIdle();

    const steps = [
      { kind: 'pod created', expect: 'False', reason: 'Unmanaged', write: (node, slot, n) => this.clients[slot].create(`/api/v1/namespaces/${CHURN_NAMESPACE}/pods`, { apiVersion: 'v1', kind: 'Pod', metadata: { name: `bare-${node}-${n}`, labels: { churn: 'bare' } }, spec: { ...loadPodSpec(), nodeName: node } }) },
      { kind: 'pod deleted', expect: 'True', write: (node, _slot, n) => core.deleteNamespacedPod({ name: `bare-${node}-${n}`, namespace: CHURN_NAMESPACE, gracePeriodSeconds: 0 }) },
      { kind: 'PDB edited', expect: 'False', reason: 'PodDisruptionBudget', pdb: 1, write: (node, slot) => this.clients[slot].mergePatch(`/apis/policy/v1/namespaces/${CHURN_NAMESPACE}/poddisruptionbudgets/churn-${node}`, { spec: { minAvailable: 1 } }) },
      { kind: 'PDB edited', expect: 'True', pdb: 0, write: (node, slot) => this.clients[slot].mergePatch(`/apis/policy/v1/namespaces/${CHURN_NAMESPACE}/poddisruptionbudgets/churn-${node}`, { spec: { minAvailable: 0 } }) },
    ];
    const state = new Map(nodes.map((node) => [node, { step: 0, busy: undefined }]));
    const results = [];
    const memoryBefore = memoryMiB(this.controller.pid);
    const ownBefore = await this.controllerMetrics();
    const apiBefore = await this.apiServerMetrics();
    const started = Date.now();
    const intervalMs = 1000 / CHURN_RATE;
    let skipped = 0;
    let n = 0;
    const inFlight = new Set();
    for (let tick = 0; Date.now() - started < CHURN_MS; tick++) {
      await sleep(Math.max(0, started + tick * intervalMs - Date.now()));
      const node = nodes[tick % nodes.length];
      const entry = state.get(node);
      if (entry.busy !== undefined) {
        skipped++;
        continue;
      }
      const step = steps[entry.step % steps.length];
      // The create and the delete of one cycle name the same bare pod.
      const count = Math.floor(entry.step / steps.length) + 1;
      entry.step++;
      const slot = n++ % WRITERS;
      const change = (async () => {
        const sent = Date.now();
        const matches = (nmd) => nmd?.drainReady?.status === step.expect && (step.reason === undefined || nmd.drainReady.reason === step.reason);
        const pdbName = `${CHURN_NAMESPACE}/churn-${node}`;
        const pdbSeen = step.pdb === undefined ? undefined : within(this.pdbWatch, (w) => w.get(`churn-${node}`, CHURN_NAMESPACE)?.disruptionsAllowed === 1 - step.pdb && w.get(`churn-${node}`, CHURN_NAMESPACE)?.minAvailable === step.pdb, 60_000, `${pdbName} status`);
        try {
          await step.write(node, slot, count);
        } catch (err) {
          log(`${node}: churn write (${step.kind}) failed: ${err.message}`);
          return;
        }
        const accepted = Date.now();
        const seen = await within(this.nmdWatch, () => matches(this.nmdWatch.get(node)), 60_000, `${node} DrainReady ${step.expect} after ${step.kind}`);
        const pdbAt = pdbSeen === undefined ? undefined : await pdbSeen;
        results.push({ kind: step.kind, expect: step.expect, sentMs: accepted - sent, ms: seen === undefined ? undefined : seen - accepted, pdbMs: pdbAt === undefined ? undefined : pdbAt - accepted });
      })();
      entry.busy = change;
      inFlight.add(change);
      void change.finally(() => {
        entry.busy = undefined;
        inFlight.delete(change);
      });
    }
    await Promise.all(inFlight);
    const ended = Date.now();
    const ownAfter = await this.controllerMetrics();
    const apiAfter = await this.apiServerMetrics();
    const memoryAfter = memoryMiB(this.controller.pid);
    const measured = results.filter((r) => r.ms !== undefined).map((r) => r.ms);
    const missing = results.length - measured.length;
    const fmt = (samples) => (samples.length === 0 ? 'none' : `p50 ${secs(percentile(samples, 50))}, p99 ${secs(percentile(samples, 99))}, max ${secs(percentile(samples, 100))} (${samples.length})`);
    this.figure(`churn: ${results.length} changes in ${secs(ended - started)} on ${nodes.length} nodes (${CHURN_RATE}/s asked; ${skipped} ticks skipped: node's last change not shown yet)`, `${(results.length / ((ended - started) / 1000)).toFixed(2)}/s`);
    this.figure('churn: change accepted (write answered) → DrainReady seen on the NodeMetadata watch, every change', `${fmt(measured)}${missing ? `; ${missing} not seen in 60 s` : ''}`, 'p99 ≤ 5 s (1,000 × 30)');
    for (const kind of ['pod created', 'pod deleted', 'PDB edited']) {
      this.figure(`churn: … ${kind}`, fmt(results.filter((r) => r.kind === kind && r.ms !== undefined).map((r) => r.ms)));
    }
    this.figure('churn: … of a PDB edit, the disruption controller\'s share (write answered → PDB status seen)', fmt(results.filter((r) => r.pdbMs !== undefined).map((r) => r.pdbMs)));
    this.figure('churn: write sent → answered (the bench\'s own writes)', fmt(results.map((r) => r.sentMs)));
    const own = FleetRun.controllerRequests(ownAfter);
    const byVerb = delta(FleetRun.controllerRequests(ownBefore).byVerb, own.byVerb);
    const sum = [...byVerb.values()].reduce((a, b) => a + b, 0);
    this.figure(`churn: controller's API requests per change (its ${own.metric}; all it sent during the churn ÷ changes)`, results.length ? `${(sum / results.length).toFixed(2)} (${formatCounts(byVerb)})` : 'n/a');
    this.figure('churn: API server requests, every client (nodes, nodemetadatas, pods, events)', formatCounts(delta(FleetRun.apiServerRequests(apiBefore), FleetRun.apiServerRequests(apiAfter))));
    this.figure('churn: controller RSS before → after', `${mib(memoryBefore?.rss)} → ${mib(memoryAfter?.rss)}`);
    // Leave the churn nodes as they were: no bare pod, the PDBs allowing one disruption (minAvailable 0).
    await core.deleteCollectionNamespacedPod({ namespace: CHURN_NAMESPACE, labelSelector: 'churn=bare', gracePeriodSeconds: 0 }).catch(() => undefined);
    await forEachLimit(nodes, WRITERS, (node, slot) => this.clients[slot].mergePatch(`/apis/policy/v1/namespaces/${CHURN_NAMESPACE}/poddisruptionbudgets/churn-${node}`, { spec: { minAvailable: 0 } }).catch(() => undefined));
  }

  /** The W nodes of wave k: after wave k-1's, wrapping, so that every wave has pods to evict. */
  waveNodes(k) {
    const start = ((k - 1) * this.waveSize) % this.nodes;
    return Array.from({ length: this.waveSize }, (_, i) => this.nodeNames[(start + i) % this.nodes]);
  }

  /** First moment each node of `names` showed `has` on the node watch from now on. */
  firstSeen(names, has) {
    const wanted = new Set(names);
    const seen = new Map();
    const check = (node, arrival) => {
      if (wanted.has(node.metadata.name) && !seen.has(node.metadata.name) && has(node)) seen.set(node.metadata.name, arrival);
    };
    const stop = this.nodeWatch.onChange((type, node, arrival) => type !== 'DELETED' && check(node, arrival));
    return { seen, stop };
  }

  /** The plain-client floor: cordon the wave's nodes (merge patch, WRITERS at a time), then uncordon. */
  async floor(names) {
    const cordoned = this.firstSeen(names, (n) => n.unschedulable);
    const started = Date.now();
    await forEachLimit(names, WRITERS, (name, slot) => this.clients[slot].mergePatch(`/api/v1/nodes/${name}`, { spec: { unschedulable: true } }));
    const answered = Date.now();
    await within(this.nodeWatch, () => cordoned.seen.size >= names.length, TIMEOUT_MS, 'the floor\'s cordons');
    cordoned.stop();
    const last = Math.max(...cordoned.seen.values());
    await forEachLimit(names, WRITERS, (name, slot) => this.clients[slot].mergePatch(`/api/v1/nodes/${name}`, { spec: { unschedulable: null } }));
    await within(this.nodeWatch, () => names.every((n) => !this.nodeWatch.get(n)?.unschedulable), TIMEOUT_MS, 'the floor\'s uncordons');
    return { ms: cordoned.seen.size === names.length ? last - started : undefined, answeredMs: answered - started };
  }

  podsOn(nodes) {
    return this.podWatch.list().filter((p) => nodes.has(p.nodeName) && !p.metadata.deletionTimestamp).length;
  }

  async wave(k) {
    const names = this.waveNodes(k);
    const waveSet = new Set(names);
    const W = names.length;
    const tag = `wave ${k}${WAVES > 1 ? ` of ${WAVES}` : ''}`;
    log(`${this.slug}: ${tag}: ${W} of ${this.nodes} nodes (${names[0]} …), ${this.podsOn(waveSet)} pods on them; floor first`);
    await this.waitIdle();
    const floor = await this.floor(names);
    this.figure(`${tag}: FLOOR, plain client cordons the ${W} nodes (${WRITERS} at a time): first PATCH → last cordon seen`, floor.ms === undefined ? notReached(TIMEOUT_MS) : `${secs(floor.ms)} (all PATCHes answered in ${secs(floor.answeredMs)})`);
    await this.waitIdle();

    const memoryBefore = memoryMiB(this.controller.pid);
    const ownBefore = await this.controllerMetrics();
    const apiBefore = await this.apiServerMetrics();
    const tainted = this.firstSeen(names, (n) => n.taintKeys.includes(SCHEDULED_EVENT_TAINT));
    const cordoned = this.firstSeen(names, (n) => n.unschedulable);
    const sent = new Map();
    const answered = new Map();
    const waveStart = Date.now();
    const createdSince = Math.floor(waveStart / 1000) * 1000; // creationTimestamp has whole seconds
    const reEvicted = new Set();
    const stopPods = this.podWatch.onChange((type, pod) => {
      if (type === 'DELETED' || !waveSet.has(pod.nodeName)) return;
      if (Date.parse(pod.metadata.creationTimestamp) >= createdSince) reEvicted.add(`${pod.metadata.namespace}/${pod.metadata.name}`);
    });
    let writeFailures = 0;
    await forEachLimit(names, WRITERS, async (name, slot) => {
      const agent = this.agents.get(name);
      agent.addPreempt(NOTICE_MS);
      sent.set(name, Date.now());
      try {
        await agent.publish(this.clients[slot]);
      } catch (err) {
        writeFailures++;
        log(`${name}: Preempt not written: ${err.message}`);
      }
      answered.set(name, Date.now());
    });
    const writesDone = Math.max(...answered.values());
    const lastCordon = await within(this.nodeWatch, () => cordoned.seen.size >= W, TIMEOUT_MS, `${tag}: every wave node cordoned`);
    await within(this.nodeWatch, () => tainted.seen.size >= W, lastCordon ? 10_000 : 1, `${tag}: every wave node tainted`);
    const afterCordonAt = (lastCordon ?? Date.now()) + AFTER_CORDON_MS;
    await sleep(Math.max(0, afterCordonAt - Date.now()));
    const podsLeft = this.podsOn(waveSet);
    const memoryAfter = memoryMiB(this.controller.pid);
    const drainedAt = await pollUntil(() => this.podsOn(waveSet) === 0, Math.max(1, waveStart + TIMEOUT_MS - Date.now()), `${tag}: every pod gone from the wave nodes`);
    const ownAfter = await this.controllerMetrics();
    const apiAfter = await this.apiServerMetrics();
    stopPods();
    tainted.stop();
    cordoned.stop();

    const toTaint = names.filter((n) => tainted.seen.has(n)).map((n) => tainted.seen.get(n) - sent.get(n));
    const toCordon = names.filter((n) => cordoned.seen.has(n)).map((n) => cordoned.seen.get(n) - sent.get(n));
    const waveMs = lastCordon ? lastCordon - waveStart : undefined;
    this.figure(`${tag}: ${W} Preempt status writes (agent's way, ${WRITERS} writers): first sent → last answered`, `${secs(writesDone - waveStart)}${writeFailures ? ` (${writeFailures} failed)` : ''}`);
    this.figure(`${tag}: write sent → taint ${SCHEDULED_EVENT_TAINT} seen`, p50p100(toTaint, W, TIMEOUT_MS));
    this.figure(`${tag}: write sent → cordon seen`, p50p100(toCordon, W, TIMEOUT_MS), 'p100 ≤ 10 s (500 of 1,000)');
    this.figure(`${tag}: wave time, first write sent → last cordon seen`, waveMs === undefined ? notReached(TIMEOUT_MS) : secs(waveMs), '≤ 2 × floor');
    this.figure(`${tag}: controller's own share, last status write answered → last cordon seen`, lastCordon ? secs(lastCordon - writesDone) : 'n/a', '≤ 2 s (1,000 of 5,000)');
    this.figure(`${tag}: wave time / floor`, waveMs !== undefined && floor.ms ? `${(waveMs / floor.ms).toFixed(1)}×` : 'n/a', '≤ 2×');
    const evictions = delta(sumBy(ownBefore, 'nodemeta_controller_evictions_total', ['result']), sumBy(ownAfter, 'nodemeta_controller_evictions_total', ['result']));
    this.figure(`${tag}: evictions (controller metric, by result)`, formatCounts(evictions));
    this.figure(`${tag}: re-evictions (pods created after the first write, bound to a wave node)`, String(reEvicted.size), '0');
    this.figure(`${tag}: pods on wave nodes ${secs(AFTER_CORDON_MS)} after the last cordon`, String(podsLeft));
    this.figure(`${tag}: first write → no pod left on any wave node`, drainedAt ? secs(drainedAt - waveStart) : `${this.podsOn(waveSet)} left, ${notReached(TIMEOUT_MS)}`);
    const dropped = total(ownAfter, 'nodemeta_controller_events_dropped_total') - total(ownBefore, 'nodemeta_controller_events_dropped_total');
    this.figure(`${tag}: Events dropped`, String(dropped), '0');
    const api429 = total(apiAfter, 'apiserver_request_total', (l) => l.code === '429') - total(apiBefore, 'apiserver_request_total', (l) => l.code === '429');
    const own = FleetRun.controllerRequests(ownAfter);
    const ownThrottled = own.throttled === undefined ? 'its metric has no codes' : String(own.throttled - FleetRun.controllerRequests(ownBefore).throttled);
    this.figure(`${tag}: 429s (API server, every client / the controller's own)`, `${api429} / ${ownThrottled}`, '0');
    this.figure(`${tag}: controller's API requests during the wave (its ${own.metric})`, formatCounts(delta(FleetRun.controllerRequests(ownBefore).byVerb, own.byVerb)));

    // Back to idle: the platform is done with the events; nodemeta uncordons and untaints.
    await forEachLimit(names, WRITERS, async (name, slot) => {
      const agent = this.agents.get(name);
      agent.clearEvents();
      await agent.publish(this.clients[slot]).catch((err) => log(`${name}: event removal not written: ${err.message}`));
    });
    const back = await within(this.nodeWatch, () => names.every((n) => !this.nodeWatch.get(n)?.unschedulable && !this.nodeWatch.get(n)?.taintKeys.includes(SCHEDULED_EVENT_TAINT)), TIMEOUT_MS, `${tag}: wave nodes uncordoned and untainted`);
    const idle = await this.waitIdle();
    const memoryIdle = memoryMiB(this.controller.pid);
    this.figure(`${tag}: controller RSS before → ${secs(AFTER_CORDON_MS)} after the last cordon → idle again`, `${mib(memoryBefore?.rss)} → ${mib(memoryAfter?.rss)} → ${mib(memoryIdle?.rss)}${back ? '' : ' (nodes not back in service)'}${idle ? '' : ' (controller not idle)'}`, 'no growth across 3 waves');
  }

  /** Idle: the controller's queue empty (if it says) and no API request of its own for 5 s. */
  async waitIdle() {
    const fingerprint = (samples) => {
      const own = FleetRun.controllerRequests(samples);
      return [...own.byVerb.values()].reduce((a, b) => a + b, 0);
    };
    let last;
    let quietSince = Date.now();
    for (const deadline = Date.now() + IDLE_TIMEOUT_MS; Date.now() < deadline; await sleep(1000)) {
      const samples = await this.controllerMetrics();
      const now = fingerprint(samples);
      const queued = hasMetric(samples, 'nodemeta_controller_queue_depth') ? total(samples, 'nodemeta_controller_queue_depth') : 0;
      if (now !== last || queued > 0) {
        last = now;
        quietSince = Date.now();
      } else if (Date.now() - quietSince >= 5000) {
        return true;
      }
    }
    log(`${this.slug}: the controller did not become idle in ${secs(IDLE_TIMEOUT_MS)}`);
    return false;
  }
}

/** The floor's copy of the controller's labels: its keys under the bench's prefix (`nodemeta.io/zone` → `floor-bench.example/nodemeta.io.zone`). */
function floorLabels(labels) {
  return Object.fromEntries(Object.entries(labels).map(([key, value]) => [`${FLOOR_PREFIX}${key.replace('/', '.')}`, value]));
}

/** Of a NodeMetadata: its name and its DrainReady condition (status, reason). */
function trimDrainReady(nmd) {
  const condition = (nmd.status?.conditions ?? []).find((c) => c.type === DRAIN_READY);
  return {
    metadata: { name: nmd.metadata?.name, resourceVersion: nmd.metadata?.resourceVersion },
    drainReady: condition === undefined ? undefined : { status: condition.status, reason: condition.reason },
  };
}

/** The first JSON line of the controller's log with this message, parsed (undefined if none). */
function controllerLogLine(file, message) {
  try {
    for (const line of readFileSync(file, 'utf8').split('\n')) {
      if (!line.includes(message)) continue;
      try {
        return JSON.parse(line);
      } catch {
        // not a JSON line
      }
    }
  } catch {
    // no log
  }
  return undefined;
}

const loadLabels = (name) => ({ app: 'fleet-load', deployment: name });
const loadPodSpec = () => ({
  tolerations: [{ key: 'kwok.x-k8s.io/node', operator: 'Exists', effect: 'NoSchedule' }],
  // Small requests: a wave moves its pods onto the other nodes, which must have room for them.
  containers: [{ name: 'app', image: 'registry.example/app:1', resources: { requests: { cpu: '10m', memory: '16Mi' } } }],
});

function deployment(name, replicas) {
  const labels = loadLabels(name);
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, namespace: NAMESPACE },
    spec: { replicas, selector: { matchLabels: labels }, template: { metadata: { labels }, spec: loadPodSpec() } },
  };
}

function replicaSet(name, replicas) {
  const labels = loadLabels(name);
  return {
    apiVersion: 'apps/v1',
    kind: 'ReplicaSet',
    metadata: { name, namespace: NAMESPACE },
    spec: { replicas, selector: { matchLabels: labels }, template: { metadata: { labels }, spec: loadPodSpec() } },
  };
}

/** A pod of `set`, already bound to `node`, as the ReplicaSet controller and the scheduler would have made it. */
function boundPod(name, node, set) {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name,
      namespace: NAMESPACE,
      labels: loadLabels(set.name),
      ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: set.name, uid: set.uid, controller: true, blockOwnerDeletion: true }],
    },
    spec: { ...loadPodSpec(), nodeName: node },
  };
}

const HOLD_POLICY = 'fleet-bench-setup-hold';

/** Refuses generated pods (the ReplicaSet controller's) while the bench writes the pods itself. */
function holdPolicy() {
  return {
    apiVersion: 'admissionregistration.k8s.io/v1',
    kind: 'ValidatingAdmissionPolicy',
    metadata: { name: HOLD_POLICY },
    spec: {
      failurePolicy: 'Fail',
      matchConstraints: { resourceRules: [{ apiGroups: [''], apiVersions: ['v1'], operations: ['CREATE'], resources: ['pods'] }] },
      validations: [{ expression: "!has(object.metadata.generateName) || object.metadata.generateName == ''", message: 'fleet bench setup: the bench writes these pods itself' }],
    },
  };
}

function holdPolicyBinding() {
  return {
    apiVersion: 'admissionregistration.k8s.io/v1',
    kind: 'ValidatingAdmissionPolicyBinding',
    metadata: { name: HOLD_POLICY },
    spec: { policyName: HOLD_POLICY, validationActions: ['Deny'], matchResources: { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': NAMESPACE } } } },
  };
}

// ---- the matrix and the one table -----------------------------------------------------------------
function printTable(runs) {
  const names = [];
  for (const r of runs) for (const name of r.figures.keys()) if (!names.includes(name)) names.push(name);
  const targetOf = (name) => runs.map((r) => r.figures.get(name)?.target).filter(Boolean);
  const cell = (text) => String(text).replaceAll('|', '\\|');
  console.log(`\n| figure | target | ${runs.map((r) => r.label).join(' | ')} |`);
  console.log(`| --- | --- | ${runs.map(() => '---').join(' | ')} |`);
  for (const name of names) {
    const targets = [...new Set(targetOf(name))].join('; ');
    console.log(`| ${cell(name)} | ${cell(targets)} | ${runs.map((r) => cell(r.figures.get(name)?.value ?? '')).join(' | ')} |`);
  }
}

/** The line that says what ran, and the table of every figure so far. */
function printSummary(ending = 'finished') {
  const runs = live.runs;
  const commit = spawnSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).stdout.trim();
  const controller = CONTROLLER_BIN === NODEMETA ? `dist/ (HEAD ${commit} + work tree, built ${builtAt()})` : `${CONTROLLER_BIN} (built ${builtAt()})`;
  console.log(`\nfleet-scale (${ending}): Kubernetes ${runs[0]?.cluster?.kubeVersion ?? '?'}, controller ${controller}, identity ${IDENTITY}` +
    `${CONTROLLER_ARGS.length ? `, controller args ${CONTROLLER_ARGS.join(' ')}` : ''}; ${WRITERS} writers; Preempt notice ${secs(NOTICE_MS)}; whole bench ${secs(Date.now() - live.started)}; logs in ${WORK_DIR}`);
  printTable(runs);
}

async function main() {
  MEMORY_CGROUP = memoryCgroup(MEMORY_LIMIT);
  log(`work directory (controller logs, cluster-up output, control-plane logs): ${WORK_DIR}`);
  log(MEMORY_CGROUP ? `the controller runs in the memory cgroup ${MEMORY_CGROUP.dir}, limit ${MEMORY_CGROUP.limit} (--controller-memory-limit)` : 'the controller runs without a memory limit (--controller-memory-limit none, or no writable cgroup memory controller)');
  const runs = live.runs;
  try {
    for (const [i, nodes] of NODE_COUNTS.entries()) {
      for (const podsPerNode of PODS_PER_NODE) {
        const r = new FleetRun(nodes, podsPerNode, WAVE_SIZES[i] ?? 0);
        runs.push(r);
        try {
          await r.main();
        } catch (err) {
          r.figure('run failed', err.message.split('\n')[0].slice(0, 300));
          process.exitCode = 1;
        } finally {
          await r.stopController();
          for (const w of [r.nodeWatch, r.podWatch, r.nmdWatch, r.pdbWatch]) if (w) { w.stop(); live.watches.delete(w); }
          for (const c of r.clients ?? []) await c.close();
          stopCluster(r.clusterDir);
        }
      }
    }
  } finally {
    stopEverything();
    printSummary();
  }
}

function builtAt() {
  try {
    return spawnSync('stat', ['-c', '%y', CONTROLLER_BIN], { encoding: 'utf8' }).stdout.slice(0, 19);
  } catch {
    return '?';
  }
}

main().catch((err) => {
  console.error(`fleet-scale bench failed: ${err.stack ?? err.message}`);
  process.exitCode = 1;
});
