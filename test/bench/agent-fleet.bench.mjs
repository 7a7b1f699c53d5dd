#!/usr/bin/env node
/* global process, console, setTimeout, performance, Buffer, AbortController, URL */
// The agents' side of a maintenance wave: what N node agents ask of the API server when they all
// start (a fresh install, then a DaemonSet rollout) and when an event appears on every VM at once.
//
//   node test/bench/agent-fleet.bench.mjs [--agents 5000] [--startup-spread MS] [--hold 10]
//                                         [--identity agent|admin] [--provider azure|alibaba]
//                                         [--floor-concurrency 32] [--settle-timeout 300]
//
// One Node process plays every agent, through the agent's own built code (dist/: `make build`
// first): per node a NodeAgent with its own NodeMetadataPublisher and KubeRestClient (so its own
// https.Agent, 4 sockets, its own TLS connection, as each real agent has), with the agent's start-up
// spread and jittered backoff, its 1 s events poll and its approval check. The agents of a scenario
// are built before it starts: a client's TLS context, made at a real agent's process start, costs
// the node's CPU, not the API server's. Only the metadata service is scripted in process (no HTTP):
// every VM reports the same instance facts, and in the wave the same Reboot event naming it.
// --provider alibaba: the VMs are Alibaba ones, which have no approval, so the wave is the status
// writes alone (the difference is what Azure's approval checks cost). A real fleet runs its agents
// on N machines; here they share one event loop and 2 cores with the control plane, so the
// event-loop delay of this process is printed with each figure (high: the client itself is part of
// what is measured).
//
// Scenarios, each with its duration, requests/s, 429s and client-side p50/p99 latency (from the
// agents' own calls), the API server's p99 by verb for nodemetadatas and nodes (from its /metrics,
// apiserver_request_duration_seconds) and its count of requests and 429s (apiserver_request_total):
//   install  N agents start at once, no NodeMetadata exists: each reads its NodeMetadata (404), reads
//            its Node, creates the NodeMetadata, applies its status. Until every agent is ready.
//   restart  the same agents stop and N new ones start (a DaemonSet rollout with maxUnavailable
//            100 %, or all nodes restarted): each reads its NodeMetadata; nothing changed, no write.
//   wave     an Azure Reboot appears on every VM at once; each agent sees it at its next poll and
//            applies its status; its approval checks (Azure) start at a random point of their
//            interval. Until every status holds the event. Then --hold seconds of the pending event:
//            the approval checks (a read from the watch cache every 5 s per agent) are the load the
//            wave leaves behind.
//   floor    the same N status writes (server-side apply of the same bodies with the event changed)
//            from a plain loop over node:https, no publisher logic, a 429 retried after its
//            Retry-After as client-go does: first all N at once on fresh connections (the agents'
//            concurrency), then --floor-concurrency at a time (what the API server does best). The
//            wave's duration is printed as a ratio of each.
//
// Identity: by default the agents use a ServiceAccount token with the agent's RBAC (the chart's
// ClusterRole), so API Priority and Fairness classifies them as the real agents (workload-low) and
// can answer 429. The admin kubeconfig (--identity admin, system:masters) is exempt from APF: it
// never sees a 429. Either way the ValidatingAdmissionPolicy path is not exercised: the token is not
// bound to a pod (no node-name claim) and the policy is not installed (only the CRD is).
//
// Nodes: plain Node objects created by this bench (no kwok: nothing heartbeats them), after
// `scripts/cluster-up.sh --nodes 1` in a temporary CLUSTER_DIR. kube-controller-manager's node
// lifecycle controller marks them NotReady and taints them about a minute after they appear; the
// bench waits until the API server sees no more of those writes before it measures, and prints the
// background request rate it measured just before each scenario. The cluster is always stopped.
import { spawnSync } from 'node:child_process';
import https from 'node:https';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const dist = (p) => import(path.join(ROOT, 'dist', p));
const { NodeAgent } = await dist('agent/node-agent.js');
const { NodeMetadataPublisher, nodeMetadataPath } = await dist('agent/publisher.js');
const { AgentMetrics } = await dist('agent/metrics.js');
const { systemClock } = await dist('time/clock.js');
const { KubeRestClient } = await dist('kube/rest-client.js');
const { kubeconfigCredentials } = await dist('kube/credentials.js');

const { values } = parseArgs({
  options: {
    agents: { type: 'string', default: '5000' },
    'startup-spread': { type: 'string' },
    hold: { type: 'string', default: '10' },
    identity: { type: 'string', default: 'agent' },
    provider: { type: 'string', default: 'azure' },
    'floor-concurrency': { type: 'string', default: '32' },
    'settle-timeout': { type: 'string', default: '300' },
  },
});
const AGENTS = Number(values.agents);
const STARTUP_SPREAD_MS = values['startup-spread'] === undefined ? undefined : Number(values['startup-spread']);
const HOLD_S = Number(values.hold);
const IDENTITY = values.identity;
const SETTLE_TIMEOUT_S = Number(values['settle-timeout']);
const PROVIDER = values.provider;
const FLOOR_CONCURRENCY = Number(values['floor-concurrency']);
if (!(AGENTS >= 1) || !['agent', 'admin'].includes(IDENTITY) || !['azure', 'alibaba'].includes(PROVIDER) || !(FLOOR_CONCURRENCY >= 1)) {
  throw new Error('usage: --agents N (>= 1), --identity agent|admin, --provider azure|alibaba, --floor-concurrency N (>= 1)');
}

const CLUSTER_DIR = mkdtempSync(path.join(tmpdir(), 'nodemeta-bench-fleet-'));
const EVENTS_INTERVAL_MS = 1_000; // the agent's default on Azure
const NODE_PREFIX = 'aks-fleet-12345678-vmss';
const nodeName = (i) => `${NODE_PREFIX}${i.toString(36).padStart(6, '0')}`;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const log = (text) => console.log(`[agent-fleet bench] ${text}`);

function sh(cmd, args, env = {}) {
  const res = spawnSync(cmd, args, { cwd: ROOT, encoding: 'utf8', env: { ...process.env, ...env } });
  if (res.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${res.stderr || res.stdout}`);
  return res.stdout;
}

// ---- measuring -----------------------------------------------------------------------------------

/** Client-side record of every API call the agents (or the floor) make: verb, latency, outcome. */
class CallLog {
  constructor() {
    this.calls = [];
  }
  async time(verb, call) {
    const started = performance.now();
    try {
      const result = await call();
      this.calls.push({ verb, ms: performance.now() - started, code: 200 });
      return result;
    } catch (err) {
      this.calls.push({ verb, ms: performance.now() - started, code: err?.status ?? err?.code ?? 'error' });
      throw err;
    }
  }
}

/** The agent's own client, with each call timed into the current scenario's CallLog. */
class TimedClient extends KubeRestClient {
  constructor(credentials, options, logs, onApplied) {
    super(credentials, options);
    this.logs = logs;
    this.onApplied = onApplied;
  }
  get(p, o) {
    return this.logs.current.time(p.startsWith('/api/v1/nodes/') ? 'GET node' : 'GET nmd', () => super.get(p, o));
  }
  create(p, body, o) {
    return this.logs.current.time('POST nmd', () => super.create(p, body, o));
  }
  async apply(p, body, fieldManager, o) {
    const result = await this.logs.current.time('APPLY nmd/status', () => super.apply(p, body, fieldManager, o));
    this.onApplied(body);
    return result;
  }
}

const quantile = (sorted, q) => (sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]);
const ms = (v) => (Number.isFinite(v) ? `${v < 10 ? v.toFixed(1) : Math.round(v)} ms` : '-');

/** The API server's counters and histograms, parsed from its Prometheus text (only what we read). */
async function scrape(admin) {
  const text = await admin.text('/metrics');
  const requests = [];
  const buckets = new Map(); // "resource|subresource|verb" -> Map(le -> count)
  const waitBuckets = new Map(); // APF queue wait, by priority level
  let rejected = 0;
  for (const line of text.split('\n')) {
    if (line.startsWith('apiserver_request_total{')) {
      const l = labels(line);
      requests.push({ ...l, value: Number(line.slice(line.lastIndexOf(' ') + 1)) });
    } else if (line.startsWith('apiserver_request_duration_seconds_bucket{')) {
      const l = labels(line);
      if (l.resource !== 'nodemetadatas' && l.resource !== 'nodes') continue;
      const key = `${l.resource}${l.subresource ? `/${l.subresource}` : ''} ${l.verb}`;
      if (!buckets.has(key)) buckets.set(key, new Map());
      buckets.get(key).set(l.le, Number(line.slice(line.lastIndexOf(' ') + 1)));
    } else if (line.startsWith('apiserver_flowcontrol_request_wait_duration_seconds_bucket{')) {
      const l = labels(line);
      const key = l.priority_level;
      if (!waitBuckets.has(key)) waitBuckets.set(key, new Map());
      const m = waitBuckets.get(key);
      m.set(l.le, (m.get(l.le) ?? 0) + Number(line.slice(line.lastIndexOf(' ') + 1)));
    } else if (line.startsWith('apiserver_flowcontrol_rejected_requests_total{')) {
      rejected += Number(line.slice(line.lastIndexOf(' ') + 1));
    }
  }
  return { at: Date.now(), requests, buckets, waitBuckets, rejected };
}

function labels(line) {
  const body = line.slice(line.indexOf('{') + 1, line.lastIndexOf('}'));
  const out = {};
  for (const m of body.matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) out[m[1]] = m[2];
  return out;
}

/** histogram_quantile over the increase of cumulative buckets between two scrapes. */
function histogramQuantile(before, after, q) {
  const les = [...after.keys()].map((le) => ({ le, bound: le === '+Inf' ? Infinity : Number(le) })).sort((a, b) => a.bound - b.bound);
  const counts = les.map(({ le, bound }) => ({ bound, n: (after.get(le) ?? 0) - (before?.get(le) ?? 0) }));
  const total = counts.at(-1)?.n ?? 0;
  if (total <= 0) return { n: 0, value: NaN };
  const rank = q * total;
  let prevBound = 0;
  let prevN = 0;
  for (const { bound, n } of counts) {
    if (n >= rank) {
      if (bound === Infinity) return { n: total, value: prevBound, overflow: true };
      return { n: total, value: prevBound + (bound - prevBound) * ((rank - prevN) / Math.max(1, n - prevN)) };
    }
    prevBound = bound;
    prevN = n;
  }
  return { n: total, value: NaN };
}

/** What the API server counted between two scrapes. */
function serverDelta(before, after) {
  const key = (r) => `${r.verb}|${r.resource}|${r.subresource}|${r.code}|${r.group}|${r.scope}|${r.component}|${r.dry_run}|${r.version}`;
  const old = new Map(before.requests.map((r) => [key(r), r.value]));
  let total = 0;
  let agentPath = 0;
  let tooMany = 0;
  for (const r of after.requests) {
    const d = r.value - (old.get(key(r)) ?? 0);
    if (d <= 0) continue;
    total += d;
    if (r.code === '429') tooMany += d;
    if (r.resource === 'nodemetadatas' || (r.resource === 'nodes' && r.verb === 'GET')) agentPath += d;
  }
  const p99 = [];
  for (const [k, b] of after.buckets) {
    const h = histogramQuantile(before.buckets.get(k), b, 0.99);
    if (h.n > 0 && (k.startsWith('nodemetadatas') || k === 'nodes GET')) p99.push(`${k} ${h.overflow ? '>' : ''}${ms(h.value * 1000)} (n=${h.n})`);
  }
  const waits = [];
  for (const [level, b] of after.waitBuckets) {
    const h = histogramQuantile(before.waitBuckets.get(level), b, 0.99);
    if (h.n > 0 && level !== 'exempt') waits.push(`${level} ${h.overflow ? '>' : ''}${ms(h.value * 1000)} (n=${h.n})`);
  }
  return { seconds: (after.at - before.at) / 1000, total, agentPath, tooMany, p99, waits, rejected: after.rejected - before.rejected };
}

function report(name, seconds, callLog, server, loopDelay, background, extra = '') {
  const calls = callLog.calls;
  const sorted = calls.map((c) => c.ms).sort((a, b) => a - b);
  const byVerb = new Map();
  for (const c of calls) byVerb.set(c.verb, (byVerb.get(c.verb) ?? 0) + 1);
  const codes = new Map();
  for (const c of calls) if (c.code !== 200) codes.set(c.code, (codes.get(c.code) ?? 0) + 1);
  const tooMany = codes.get(429) ?? 0;
  console.log(`\n${name}: ${seconds.toFixed(2)} s${extra}`);
  console.log(`  client: ${calls.length} requests (${[...byVerb].map(([v, n]) => `${v} ${n}`).join(', ')}), ${(calls.length / seconds).toFixed(0)} req/s; 429: ${tooMany}; other non-2xx answers and errors: ${[...codes].filter(([c]) => c !== 429).map(([c, n]) => `${c} x${n}`).join(', ') || 'none'}`);
  console.log(`  client latency: p50 ${ms(quantile(sorted, 0.5))}, p99 ${ms(quantile(sorted, 0.99))}, max ${ms(sorted.at(-1))}; this process's event-loop delay p99 ${ms(loopDelay.percentile(99) / 1e6)}`);
  console.log(`  API server: ${server.total} requests in ${server.seconds.toFixed(1)} s = ${(server.total / server.seconds).toFixed(0)} req/s (agent path, nodemetadatas + GET nodes: ${server.agentPath}); 429: ${server.tooMany} (APF rejected: ${server.rejected}); background before: ${background === undefined ? 'not measured (the agents run)' : `${background.toFixed(1)} req/s`}`);
  console.log(`  API server p99: ${server.p99.join('; ') || '-'}`);
  console.log(`  APF queue wait p99: ${server.waits.join('; ') || '-'}`);
  return { seconds, tooMany };
}

/** Runs `body` as one scenario: scrapes before and after, times the agents' calls, the event loop. */
async function scenario(admin, logs, body, { measureBackground = true } = {}) {
  const background = measureBackground ? await backgroundRate(admin) : undefined;
  logs.current = new CallLog();
  const loopDelay = monitorEventLoopDelay({ resolution: 10 });
  const before = await scrape(admin);
  loopDelay.enable();
  const started = performance.now();
  const extra = await body();
  const seconds = (performance.now() - started) / 1000;
  loopDelay.disable();
  const after = await scrape(admin);
  return { seconds, callLog: logs.current, server: serverDelta(before, after), loopDelay, background, extra };
}

/** Requests per second the API server answers while the bench sends nothing (2 s). */
async function backgroundRate(admin) {
  const a = await scrape(admin);
  await sleep(2000);
  const b = await scrape(admin);
  return serverDelta(a, b).total / ((b.at - a.at) / 1000);
}

// ---- the fleet -------------------------------------------------------------------------------------

/** The world the scripted metadata services report: instance facts per VM, events for all. */
const world = { events: [], incarnation: 1 };

/** A metadata service answered in process: what IMDS would say, normalised as the clients do. */
class ScriptedMetadata {
  name = PROVIDER;
  constructor(node, index) {
    this.node = node;
    this.index = index;
  }
  async readInstance() {
    const zone = `${this.index % 3 + 1}`;
    return {
      instance: { id: `00000000-0000-0000-0000-${String(this.index).padStart(12, '0')}`, name: this.node, region: 'eastus', zone: `eastus-${zone}`, faultDomain: String(this.index % 5), updateDomain: String(this.index % 5), instanceType: 'Standard_D4s_v5', priority: 'regular', scaleSet: 'aks-fleet-12345678-vmss' },
      tags: [{ name: 'team', value: 'payments' }],
    };
  }
  async readEvents() {
    return { events: world.events.map((e) => ({ ...e, resources: [this.node] })), spot: undefined, incarnation: world.incarnation };
  }
  async approve() {}
  async close() {}
}

/** Logs nothing; counts the agent's "will retry" warnings (its backoff at work). */
function countingLogger(counts) {
  const note = (message) => counts.set(message, (counts.get(message) ?? 0) + 1);
  return { warn: note, error: note, info: () => {}, debug: () => {}, defaultMeta: {} };
}

/** Every fleet started and not yet stopped, so that a failed run stops them too. */
const fleets = new Set();

/** N agents, built (clients, TLS contexts) but not started: building them is not part of a scenario. */
function createFleet(credentials, logs, metrics, onApplied) {
  const warnings = new Map();
  const logger = countingLogger(warnings);
  const members = [];
  for (let i = 0; i < AGENTS; i++) {
    const node = nodeName(i);
    const client = new TimedClient(credentials, { userAgent: `nodemeta-agent/${node}` }, logs, (body) => onApplied(node, body));
    const agent = new NodeAgent({
      provider: new ScriptedMetadata(node, i),
      sink: new NodeMetadataPublisher(client, node),
      clock: systemClock,
      logger,
      metrics,
      eventsIntervalMs: EVENTS_INTERVAL_MS,
      instanceIntervalMs: 60_000,
      random: Math.random,
      ...(STARTUP_SPREAD_MS === undefined ? {} : { startupSpreadMs: STARTUP_SPREAD_MS }),
    });
    // A signal per agent, as each real agent has its own process: every sleep adds a listener to it,
    // and one signal shared by thousands would make each removal walk thousands of listeners.
    members.push({ agent, client, stop: new AbortController() });
  }
  let runs = [];
  const fleet = {
    agents: members.map((m) => m.agent),
    warnings,
    /** Every agent starts now, as a DaemonSet's pods would if all were scheduled at once. */
    start() {
      runs = members.map(({ agent, client, stop }) => agent.run(stop.signal).finally(() => client.close()));
    },
    async stop() {
      fleets.delete(fleet);
      for (const { stop } of members) stop.abort();
      await Promise.all(runs);
      await Promise.all(members.map(({ client }) => client.close()));
    },
  };
  fleets.add(fleet);
  return fleet;
}

async function until(pred, timeoutMs, what) {
  for (const deadline = Date.now() + timeoutMs; Date.now() < deadline; await sleep(20)) if (pred()) return;
  throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}`);
}

// ---- the floor ---------------------------------------------------------------------------------------

/**
 * N server-side applies of the agent's status, all at once, over plain node:https. A 429 is retried
 * as client-go does it: after the Retry-After the server sent (APF sends 1 s), without jitter.
 */
async function floorWrites(credentials, bodies, callLog, concurrency) {
  const agent = new https.Agent({ keepAlive: true, maxSockets: Infinity, ca: credentials.ca, cert: credentials.cert, key: credentials.key, proxyEnv: {} });
  const token = credentials.token ? await credentials.token() : undefined;
  const url = new URL(credentials.server);
  const applyOnce = (node, text) =>
    new Promise((resolve, reject) => {
      const req = https.request(
        {
          agent,
          host: url.hostname,
          port: url.port,
          method: 'PATCH',
          path: `${nodeMetadataPath(node)}/status?fieldManager=nodemeta-agent&force=true`,
          headers: { 'content-type': 'application/apply-patch+yaml', accept: 'application/json', 'content-length': Buffer.byteLength(text), ...(token ? { authorization: `Bearer ${token}` } : {}) },
        },
        (res) => {
          res.resume();
          res.on('end', () => {
            if (res.statusCode < 300) return resolve();
            reject(Object.assign(new Error(`${res.statusCode}`), { status: res.statusCode, retryAfterS: Number(res.headers['retry-after'] ?? 1) }));
          });
        },
      );
      req.on('error', reject);
      req.end(text);
    });
  const write = async ([node, body]) => {
    const text = JSON.stringify(body);
    for (;;) {
      try {
        return await callLog.time('APPLY nmd/status', () => applyOnce(node, text));
      } catch (err) {
        if (err.status !== 429) return;
        await sleep(err.retryAfterS * 1000);
      }
    }
  };
  const queue = [...bodies];
  await Promise.all(
    Array.from({ length: Math.min(concurrency, queue.length) }, async () => {
      for (let next = queue.shift(); next; next = queue.shift()) await write(next);
    }),
  );
  agent.destroy();
}

// ---- main --------------------------------------------------------------------------------------------

async function main() {
  log(`cluster in ${CLUSTER_DIR}; ${AGENTS} agents, identity ${IDENTITY}`);
  sh('scripts/cluster-up.sh', ['--nodes', '1'], { CLUSTER_DIR });
  const cluster = JSON.parse(readFileSync(path.join(CLUSTER_DIR, 'cluster.json'), 'utf8'));
  const kubectl = (...a) => sh(path.join(cluster.binDir, 'kubectl'), ['--kubeconfig', cluster.kubeconfig, ...a]);
  kubectl('apply', '--server-side', '-f', 'crds/');
  kubectl('wait', '--for=condition=Established', 'crd/nodemetadatas.nodemeta.io', '--timeout=60s');

  const adminCredentials = await kubeconfigCredentials(cluster.kubeconfig);
  // Setup and /metrics go through admin clients of the same kind (4 sockets each): a few in parallel.
  const setupClients = Array.from({ length: 8 }, () => new KubeRestClient(adminCredentials, { userAgent: 'agent-fleet-bench-setup' }));
  const admin = { text: (p) => getText(adminCredentials, p) };

  let credentials = adminCredentials;
  if (IDENTITY === 'agent') {
    const input = agentRbacYaml();
    const res = spawnSync(path.join(cluster.binDir, 'kubectl'), ['--kubeconfig', cluster.kubeconfig, 'apply', '-f', '-'], { input, encoding: 'utf8' });
    if (res.status !== 0) throw new Error(res.stderr);
    const token = kubectl('create', 'token', 'nodemeta-agent', '-n', 'nodemeta', '--duration=4h').trim();
    credentials = { server: adminCredentials.server, ca: adminCredentials.ca, token: async () => token, source: 'ServiceAccount nodemeta/nodemeta-agent' };
  }

  // N plain Nodes, 32 creates in flight.
  const createStarted = Date.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: 32 }, async (_, w) => {
      for (let i = next++; i < AGENTS; i = next++) {
        const name = nodeName(i);
        await setupClients[w % setupClients.length].create('/api/v1/nodes', { apiVersion: 'v1', kind: 'Node', metadata: { name, labels: { 'kubernetes.io/hostname': name, 'topology.kubernetes.io/zone': `eastus-${(i % 3) + 1}` } } });
      }
    }),
  );
  log(`${AGENTS} Nodes created in ${((Date.now() - createStarted) / 1000).toFixed(1)} s; waiting for the node lifecycle controller to be done with them`);
  await settle(admin, createStarted);

  const logs = { current: new CallLog() };
  const metrics = new AgentMetrics();
  const eventId = '00000000-0000-0000-0000-00000000e001';
  const sawEvent = new Map(); // node -> ms when its status with the event was applied
  const lastBodies = new Map(); // node -> the agent's last status body
  const onApplied = (node, body) => {
    lastBodies.set(node, body);
    if (body.status?.events?.some((e) => e.id === eventId) && !sawEvent.has(node)) sawEvent.set(node, performance.now());
  };
  const results = {};

  // ---- install ----
  let fleet = createFleet(credentials, logs, metrics, onApplied);
  const install = await scenario(admin, logs, async () => {
    fleet.start();
    await until(() => fleet.agents.every((a) => a.ready() === undefined), 900_000, 'every agent ready (install)');
  });
  results.install = report('install (no NodeMetadata yet; every agent starts at once)', install.seconds, install.callLog, install.server, install.loopDelay, install.background, `; agent retries: ${retries(fleet.warnings)}`);

  // ---- restart ----
  await fleet.stop();
  fleet = createFleet(credentials, logs, metrics, onApplied);
  await sleep(2000);
  const restart = await scenario(admin, logs, async () => {
    fleet.start();
    await until(() => fleet.agents.every((a) => a.ready() === undefined), 900_000, 'every agent ready (restart)');
  });
  results.restart = report('restart (DaemonSet rollout, every agent at once; statuses current)', restart.seconds, restart.callLog, restart.server, restart.loopDelay, restart.background, `; agent retries: ${retries(fleet.warnings)}`);

  // ---- wave ----
  // Longer than the agents' idle-socket timeout (30 s): as in a real cluster between waves, their
  // kept-alive connections are closed and the wave opens new ones.
  await sleep(35_000);
  const warningsBefore = retries(fleet.warnings);
  const wave = await scenario(admin, logs, async () => {
    const t0 = performance.now();
    world.events = [{ id: eventId, type: 'Reboot', rawType: PROVIDER === 'azure' ? 'Reboot' : 'SystemMaintenance.Reboot', status: 'Scheduled', notBefore: new Date(Date.now() + 15 * 60_000).toISOString(), durationSeconds: -1, source: 'Platform', description: 'Host server maintenance.' }];
    world.incarnation = 2;
    await until(() => sawEvent.size === AGENTS, 900_000, 'every status to hold the event');
    const toWrite = [...sawEvent.values()].map((t) => t - t0).sort((a, b) => a - b);
    return `; event -> status applied: p50 ${ms(quantile(toWrite, 0.5))}, p99 ${ms(quantile(toWrite, 0.99))}, last ${ms(toWrite.at(-1))}; agent retries: ${retries(fleet.warnings) - warningsBefore}`;
  });
  results.wave = report(`wave (a Reboot on every VM at once, ${PROVIDER})`, wave.seconds, wave.callLog, wave.server, wave.loopDelay, wave.background, wave.extra);

  const hold = await scenario(admin, logs, () => sleep(HOLD_S * 1000).then(() => ''), { measureBackground: false });
  report(`while the event is pending (${HOLD_S} s)${PROVIDER === 'azure' ? ': approval checks' : ''}`, hold.seconds, hold.callLog, hold.server, hold.loopDelay, hold.background);
  await fleet.stop();

  // ---- floors ----
  const floorBodies = (round) => new Map([...lastBodies].map(([node, body]) => [node, { ...body, status: { ...body.status, events: body.status.events.map((e) => ({ ...e, description: `Host server maintenance (floor ${round}).` })) } }]));
  for (const [round, concurrency] of [[1, AGENTS], [2, FLOOR_CONCURRENCY]]) {
    const bodies = floorBodies(round);
    const floor = await scenario(admin, logs, () => floorWrites(credentials, bodies, logs.current, concurrency).then(() => ''));
    const what = concurrency >= AGENTS ? 'all at once, fresh connections' : `${concurrency} at a time`;
    results[`floor${round}`] = report(`floor (${bodies.size} status applies, ${what}, plain node:https)`, floor.seconds, floor.callLog, floor.server, floor.loopDelay, floor.background);
  }

  const ratio = (a, b) => `${(a.seconds / b.seconds).toFixed(2)} (${a.seconds.toFixed(2)} s / ${b.seconds.toFixed(2)} s)`;
  console.log(`\n${AGENTS} agents (${PROVIDER}), Kubernetes ${cluster.kubeVersion}, identity ${IDENTITY === 'agent' ? 'ServiceAccount (APF workload-low)' : 'admin (APF exempt)'}, start-up spread ${STARTUP_SPREAD_MS ?? `default (${EVENTS_INTERVAL_MS} ms)`}`);
  console.log(`wave / floor all at once: ${ratio(results.wave, results.floor1)}; wave / floor ${FLOOR_CONCURRENCY} at a time: ${ratio(results.wave, results.floor2)}`);
  for (const c of setupClients) await c.close();
}

const retries = (warnings) => [...warnings].filter(([m]) => m.includes('will retry')).reduce((n, [, c]) => n + c, 0);

/** GET over node:https with the admin credentials (the API server's /metrics is plain text). */
function getText(credentials, p) {
  const url = new URL(credentials.server);
  return new Promise((resolve, reject) => {
    const req = https.request({ host: url.hostname, port: url.port, path: p, ca: credentials.ca, cert: credentials.cert, key: credentials.key, agent: false, headers: { accept: 'text/plain' } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (text += d));
      res.on('end', () => (res.statusCode === 200 ? resolve(text) : reject(new Error(`GET ${p}: ${res.statusCode} ${text.slice(0, 200)}`))));
    });
    req.on('error', reject);
    req.end();
  });
}

/**
 * Waits until kube-controller-manager is done with the new Nodes: it marks a Node that never
 * reported NotReady after its start-up grace period (1 min) and taints it. Done when the API server
 * has seen fewer than 5 writes a second for 6 s, at least 70 s after the first Node was created.
 */
async function settle(admin, createdAt) {
  const writes = (s) => s.requests.filter((r) => !['GET', 'LIST', 'WATCH'].includes(r.verb)).reduce((n, r) => n + r.value, 0);
  const deadline = Date.now() + SETTLE_TIMEOUT_S * 1000;
  let quietSince;
  let last = await scrape(admin);
  while (Date.now() < deadline) {
    await sleep(2000);
    const now = await scrape(admin);
    const rate = (writes(now) - writes(last)) / ((now.at - last.at) / 1000);
    last = now;
    if (rate >= 5) quietSince = undefined;
    else quietSince ??= Date.now();
    if (quietSince !== undefined && Date.now() - quietSince >= 6000 && Date.now() - createdAt >= 70_000) return;
  }
  log(`the API server did not quieten within ${SETTLE_TIMEOUT_S} s; measuring anyway (see the background rates)`);
}

function agentRbacYaml() {
  // The rules of charts/nodemeta/templates/rbac-agent.yaml.
  return `apiVersion: v1
kind: Namespace
metadata: {name: nodemeta}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: nodemeta-agent, namespace: nodemeta}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: nodemeta-agent}
rules:
  - {apiGroups: [""], resources: [nodes], verbs: [get]}
  - {apiGroups: [nodemeta.io], resources: [nodemetadatas], verbs: [get, create]}
  - {apiGroups: [nodemeta.io], resources: [nodemetadatas/status], verbs: [patch]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: nodemeta-agent}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: nodemeta-agent}
subjects: [{kind: ServiceAccount, name: nodemeta-agent, namespace: nodemeta}]
`;
}

// Interrupted (Ctrl-C, a supervisor's SIGTERM): still stop the cluster this bench started.
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.once(signal, () => {
    spawnSync(path.join(ROOT, 'scripts/cluster-down.sh'), [], { env: { ...process.env, CLUSTER_DIR }, stdio: 'ignore' });
    process.exit(130);
  });
}

main()
  .catch((err) => {
    console.error(`agent-fleet bench failed: ${err.stack ?? err.message}`);
    process.exitCode = 1;
  })
  .finally(async () => {
    await Promise.all([...fleets].map((f) => f.stop()));
    spawnSync(path.join(ROOT, 'scripts/cluster-down.sh'), [], { env: { ...process.env, CLUSTER_DIR }, stdio: 'ignore' });
  });
