#!/usr/bin/env node
/* global process, console, setTimeout, clearTimeout, fetch */
// Memory of the node agent, which runs on every node: its target is ≤ 64 MiB in steady state
// (docs/scaling.md, "What the agent keeps in memory"). Built code (dist/, `make build`).
//
//   node test/bench/agent-memory.bench.mjs [--settle 60s] [--samples 10] [--rounds 1] [--without-flags]
//
// 1. Which modules and npm packages the agent process loads (a module.registerHooks resolve hook, in
//    a separate run so that it costs the measured runs nothing): undici must not be among them, its
//    HTTP parser is WebAssembly, which --lite-mode does not run.
// 2. Per round, at the same time: a long-running `nodemeta agent` per provider (Azure; Alibaba in
//    hardened mode with tags), started as the DaemonSet starts it (`node --lite-mode
//    --max-semi-space-size=1`), against the emulator and the local cluster's API server (CLUSTER_DIR,
//    default .cache/cluster: `make cluster-up`; the CRD is applied here), and the floor: the plainest
//    Node process doing the same steady work with the same flags (`node -e`: an HTTP server and a
//    1 s timer that GETs the emulator's scheduled events over keep-alive and parses them, after one
//    HTTPS request to the API server). The machine is noisy, so the floor shares each round's noise
//    and each agent is also given as a ratio to it. After --settle of real polling (events every 1 s
//    on Azure, 5 s on Alibaba), --samples samples 1 s apart of
//    - RSS: VmRSS from /proc/<pid>/status, split into anonymous (the process's own) and file-backed
//      pages (mostly the `node` executable's code, shared by every process running that binary);
//    - working set: what a container memory limit and the kubelet count, memory.current minus
//      inactive_file (cgroup v2; v1: memory.usage_in_bytes minus total_inactive_file) of a memory
//      cgroup of its own, created under this process's cgroup (skipped where that is not allowed).
//      Each measured process runs its own copy of the `node` executable, written past the page
//      cache (dd oflag=direct), so that the code pages it touches are charged to its cgroup, as in a
//      container that is the first to read its image's binary (the worst case: a node where the
//      binary's pages are already cached on another cgroup's account charges the agent less).
//      Without memory pressure those pages stay on the inactive list: the working set is close to
//      the anonymous memory.
//    The agents read the kubeconfig as JSON, without loading the YAML parser, as a pod (which uses
//    its service account) never loads it. NODEMETA_BENCH_BASELINE (below) adds another build's
//    agents to every round, for before/after in the same rounds. Each agent needs a cluster node of
//    its own (2, or 4 with a baseline: `make cluster-up` makes 6).
//    Each round prints min/median/max MiB of each; with --rounds > 1 a last line per process gives
//    the median over the rounds, against the 64 MiB target. --without-flags measures the agents
//    without the V8 flags too. Without a cluster this part is skipped (the agent needs an API server).
// 3. Always: the peak RSS (VmHWM) of `agent --once` per provider, with the flags.
// Figures, not assertions: the exit status is 0 whenever the bench could run.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { startEmulator } from '../../dist/emulator/emulator.js';
import { parseDurationMs } from '../../dist/cmd/flags.js';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const NODEMETA = path.join(REPO, 'dist/cmd/nodemeta.js');
// NODEMETA_BENCH_BASELINE: another build's dist/cmd/nodemeta.js (e.g. a copy of dist/ made before a
// change, kept inside the repository so that it finds node_modules), measured in the same rounds.
const BASELINE = process.env.NODEMETA_BENCH_BASELINE ? path.resolve(process.env.NODEMETA_BENCH_BASELINE) : undefined;
// NODEMETA_BENCH_V8_FLAGS (space-separated) replaces them, to compare other settings.
const V8_FLAGS = process.env.NODEMETA_BENCH_V8_FLAGS ? process.env.NODEMETA_BENCH_V8_FLAGS.split(' ').filter(Boolean) : ['--lite-mode', '--max-semi-space-size=1'];
const TARGET_MIB = 64;

const { values } = parseArgs({
  options: {
    settle: { type: 'string', default: '60s' },
    samples: { type: 'string', default: '10' },
    rounds: { type: 'string', default: '1' },
    'without-flags': { type: 'boolean', default: false },
  },
});
const SETTLE_MS = parseDurationMs(values.settle) ?? 60_000;
const SAMPLES = Math.max(1, Number(values.samples) || 10);
const ROUNDS = Math.max(1, Number(values.rounds) || 1);

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const mib = (kib) => +(kib / 1024).toFixed(1);
const print = (figures) => console.log(JSON.stringify(figures));

/** A field of /proc/<pid>/status in KiB (VmRSS, VmHWM), or undefined once the process is gone. */
function procKib(pid, field) {
  try {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

function stats(kibs) {
  const s = [...kibs].sort((a, b) => a - b);
  return { minMiB: mib(s[0]), medianMiB: mib(median(s)), maxMiB: mib(s.at(-1)) };
}

/**
 * A memory cgroup of its own for one measured process, under this process's cgroup (v1 or v2), or
 * why not. `wrap(argv)` starts argv inside it (a shell writes its pid, then execs); `workingSetKib()`
 * is what the kubelet and a memory limit count: usage minus inactive file pages.
 */
function memoryCgroup(name) {
  let entries;
  try {
    entries = readFileSync('/proc/self/cgroup', 'utf8').split('\n').filter(Boolean).map((l) => l.split(':'));
  } catch {
    return { skip: 'no /proc/self/cgroup' };
  }
  const v1 = entries.find((e) => e[1].split(',').includes('memory'));
  const v2 = entries.find((e) => e[0] === '0' && e[1] === '');
  let dir;
  let files;
  if (v1 && existsSync('/sys/fs/cgroup/memory/cgroup.procs')) {
    dir = path.join('/sys/fs/cgroup/memory', v1[2], name);
    files = { usage: 'memory.usage_in_bytes', inactive: 'total_inactive_file' };
  } else if (v2 && existsSync('/sys/fs/cgroup/cgroup.controllers')) {
    const parent = path.join('/sys/fs/cgroup', v2[2]);
    try {
      if (!readFileSync(path.join(parent, 'cgroup.subtree_control'), 'utf8').includes('memory')) writeFileSync(path.join(parent, 'cgroup.subtree_control'), '+memory');
    } catch (err) {
      return { skip: `cannot enable the memory controller below ${parent} (${err.code ?? err.message})` };
    }
    dir = path.join(parent, name);
    files = { usage: 'memory.current', inactive: 'inactive_file' };
  } else {
    return { skip: 'no memory cgroup' };
  }
  try {
    mkdirSync(dir);
  } catch (err) {
    return { skip: `cannot create the memory cgroup ${dir} (${err.code ?? err.message})` };
  }
  return {
    dir,
    wrap: (argv) => ['/bin/sh', ['-c', `echo $$ > '${dir}/cgroup.procs' && exec "$@"`, 'sh', ...argv]],
    workingSetKib() {
      try {
        const usage = Number(readFileSync(path.join(dir, files.usage), 'utf8'));
        const m = new RegExp(`^${files.inactive} (\\d+)$`, 'm').exec(readFileSync(path.join(dir, 'memory.stat'), 'utf8'));
        return Math.round((usage - Number(m?.[1] ?? 0)) / 1024);
      } catch {
        return undefined;
      }
    },
    remove() {
      try {
        rmdirSync(dir);
      } catch {
        // still has a process (it is being killed) or already gone
      }
    },
  };
}

/**
 * A copy of the node executable that is not in the page cache (written with O_DIRECT), so that the
 * pages its process touches are charged to that process's cgroup. Falls back to this executable.
 */
function coldNode(file) {
  try {
    execFileSync('dd', [`if=${process.execPath}`, `of=${file}`, 'bs=4M', 'oflag=direct', 'status=none'], { stdio: 'ignore' });
    execFileSync('chmod', ['755', file]);
    return file;
  } catch {
    rmSync(file, { force: true });
    return process.execPath;
  }
}

let launched = 0;

/**
 * Starts a process to measure: `node ...args` with a cold copy of node, in a memory cgroup of its
 * own when it may. `sample()` gives RSS (and its anonymous and file parts) and the working set in KiB.
 */
function launch(args, { env = {}, stdio = ['ignore', 'ignore', 'pipe'] } = {}) {
  const id = `nodemeta-agent-bench-${process.pid}-${++launched}`;
  const node = coldNode(path.join(scratch, id));
  const cgroup = memoryCgroup(id);
  const [cmd, argv] = cgroup.skip ? [node, args] : cgroup.wrap([node, ...args]);
  const child = spawn(cmd, argv, { env: { ...process.env, ...env }, stdio });
  const exited = new Promise((resolve) => child.on('close', (code, signal) => resolve(signal ?? code)));
  exited.then(() => {
    if (!cgroup.skip) cgroup.remove();
    if (node !== process.execPath) rmSync(node, { force: true });
  });
  const sample = () => {
    const rss = procKib(child.pid, 'VmRSS');
    if (rss === undefined) return undefined;
    return { rss, anon: procKib(child.pid, 'RssAnon') ?? 0, file: procKib(child.pid, 'RssFile') ?? 0, ws: cgroup.skip ? undefined : cgroup.workingSetKib() };
  };
  const stop = async () => {
    if (child.exitCode === null) child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    const outcome = await exited;
    clearTimeout(timer);
    return outcome;
  };
  return { child, exited, sample, stop, workingSet: cgroup.skip ? `not measured: ${cgroup.skip}` : 'measured' };
}

/** Emulators as the agents see them: Azure, and Alibaba with two tags (the agent reads them). */
async function emulators() {
  const azure = await startEmulator({ provider: 'azure', vms: 1 });
  const alibaba = await startEmulator({ provider: 'alibaba', vms: 1 });
  await fetch(`${alibaba.url}/_emulator/vms/${alibaba.vms[0]}`, {
    method: 'PATCH',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ tagsEnabled: true, tags: [{ name: 'team', value: 'payments' }, { name: 'env', value: 'prod' }] }),
  });
  return {
    runs: [
      { provider: 'azure', endpoint: azure.endpoint(azure.vms[0]), args: [] },
      { provider: 'alibaba', endpoint: alibaba.endpoint(alibaba.vms[0]), args: ['--alibaba-mode', 'hardened', '--alibaba-tags'] },
    ],
    close: async () => {
      await azure.close();
      await alibaba.close();
    },
  };
}

/** The local cluster, ready for agents (CRD applied, nodes listed), or why not. */
function cluster() {
  const dir = process.env.CLUSTER_DIR ?? path.join(REPO, '.cache/cluster');
  const file = path.join(dir, 'cluster.json');
  if (!existsSync(file)) return { skip: `no local cluster at ${dir} (run \`make cluster-up\`, or set CLUSTER_DIR)` };
  const info = JSON.parse(readFileSync(file, 'utf8'));
  const kubectl = (...args) => execFileSync(path.join(info.binDir, 'kubectl'), ['--kubeconfig', info.kubeconfig, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  try {
    kubectl('get', '--raw', '/readyz', '--request-timeout=5s');
    kubectl('apply', '--server-side', '--force-conflicts', '-f', path.join(REPO, 'crds/nodemetadatas.nodemeta.io.yaml'));
    kubectl('wait', '--for=condition=Established', '--timeout=30s', 'crd/nodemetadatas.nodemeta.io');
    const nodes = kubectl('get', 'nodes', '-o', 'jsonpath={.items[*].metadata.name}').split(' ').filter(Boolean);
    if (nodes.length === 0) return { skip: `the cluster at ${dir} has no nodes` };
    // The agents get the kubeconfig as JSON, which they read without loading the YAML parser: in a
    // pod the agent uses its service account and never loads it either (src/kube/credentials.ts).
    const kubeconfig = path.join(scratch, 'kubeconfig.json');
    writeFileSync(kubeconfig, kubectl('config', 'view', '--raw', '-o', 'json'));
    return { kubeconfig, nodes, kubectl, apiServer: info.apiServer };
  } catch (err) {
    return { skip: `the cluster at ${dir} is not usable: ${String(err.stderr || err.message).trim().split('\n')[0]}` };
  }
}

/** Starts a long-running agent; resolves once its health server is up (URL from its log). */
function startAgent({ v8Flags, run, node, kubeconfig, env = {}, preload = [], entry = NODEMETA }) {
  const args = [
    ...v8Flags,
    ...preload,
    entry,
    'agent',
    '--provider',
    run.provider,
    '--endpoint',
    run.endpoint,
    ...run.args,
    '--node-name',
    node,
    '--kubeconfig',
    kubeconfig,
    '--metrics-addr',
    '127.0.0.1:0',
  ];
  const proc = launch(args, { env });
  const child = proc.child;
  let log = '';
  const lines = [];
  child.stderr.on('data', (d) => {
    log += d.toString();
    let nl;
    while ((nl = log.indexOf('\n')) >= 0) {
      lines.push(log.slice(0, nl));
      if (lines.length > 200) lines.shift();
      log = log.slice(nl + 1);
    }
  });
  const healthUrl = async () => {
    for (let i = 0; i < 100; i++) {
      for (const line of lines) {
        try {
          const entry = JSON.parse(line);
          if (entry.message === 'serving health and metrics') return entry.url;
        } catch {
          // not a JSON line
        }
      }
      if (child.exitCode !== null) break;
      await sleep(100);
    }
    throw new Error(`the agent did not start: ${lines.slice(-5).join(' | ')}`);
  };
  return { ...proc, lines, healthUrl };
}

/**
 * The floor: the plainest Node process doing the agent's steady work, with the same V8 flags. An
 * HTTP server (the agent's /metrics and probes), one HTTPS request to the API server (the agent's
 * TLS client), then every second a keep-alive GET of the emulator's scheduled events, parsed.
 */
const FLOOR_SOURCE = `
const http = require('node:http');
const https = require('node:https');
const [imds, api] = process.argv.slice(1);
http.createServer((req, res) => res.end('ok')).listen(0, '127.0.0.1');
https.get(api + '/readyz', { rejectUnauthorized: false }, (res) => res.resume()).on('error', () => {});
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
setInterval(() => {
  http.get(imds + '/metadata/scheduledevents?api-version=2020-07-01', { agent, headers: { Metadata: 'true' } }, (res) => {
    let body = '';
    res.setEncoding('utf8');
    res.on('data', (d) => (body += d));
    res.on('end', () => JSON.parse(body));
  }).on('error', () => {});
}, 1000);
`;

function startFloor({ v8Flags, imds, apiServer }) {
  return launch([...v8Flags, '-e', FLOOR_SOURCE, imds, apiServer], { stdio: 'ignore' });
}

/** The modules a process resolves (URLs), recorded by a resolve hook into `out`; and their npm packages. */
function moduleProbe(dir) {
  const hook = path.join(dir, 'probe.mjs');
  const out = path.join(dir, 'modules.txt');
  writeFileSync(
    hook,
    `const { appendFileSync } = process.getBuiltinModule('node:fs'); // an ES import of node:fs would load node:fs/promises
const { registerHooks } = process.getBuiltinModule('node:module');
const seen = new Set();
registerHooks({
  resolve(specifier, context, nextResolve) {
    const result = nextResolve(specifier, context);
    if (!seen.has(result.url)) {
      seen.add(result.url);
      appendFileSync(${JSON.stringify(out)}, result.url + '\\n');
    }
    return result;
  },
});
`,
  );
  const modules = () => (existsSync(out) ? readFileSync(out, 'utf8').split('\n').filter(Boolean) : []);
  const packages = () => [...new Set(modules().map((url) => /\/node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(url)?.[1]).filter(Boolean))].sort();
  return { preload: ['--import', hook], modules, packages };
}

/** --samples samples, 1 s apart, of every process at once: RSS, anonymous, file-backed, working set. */
async function sampleAll(procs) {
  const series = procs.map(() => ({ rss: [], anon: [], file: [], ws: [] }));
  for (let i = 0; i < SAMPLES; i++) {
    procs.forEach((p, j) => {
      const s = p.sample();
      if (s === undefined) throw new Error(`${p.name} exited while being measured`);
      for (const key of ['rss', 'anon', 'file']) series[j][key].push(s[key]);
      if (s.ws !== undefined) series[j].ws.push(s.ws);
    });
    if (i < SAMPLES - 1) await sleep(1_000);
  }
  return series;
}

/**
 * One round: the floor and every agent (per provider, and the baseline build's when given) at once,
 * settled, then sampled together. Returns one figure set per process.
 */
async function steadyRound({ round, label, v8Flags, emu, k8s }) {
  const agents = [];
  const entries = [{ build: 'current', entry: NODEMETA }, ...(BASELINE ? [{ build: 'baseline', entry: BASELINE }] : [])];
  let n = 0;
  const floor = { name: 'floor', proc: startFloor({ v8Flags, imds: emu.runs[0].endpoint, apiServer: k8s.apiServer }) };
  try {
    for (const { build, entry } of entries) {
      for (const run of emu.runs) {
        const node = k8s.nodes[n++ % k8s.nodes.length];
        agents.push({ name: `${run.provider} agent (${build})`, build, run, node, proc: startAgent({ v8Flags, run, node, kubeconfig: k8s.kubeconfig, entry }) });
      }
    }
    const healths = await Promise.all(agents.map((a) => a.proc.healthUrl()));
    const deadline = Date.now() + SETTLE_MS;
    while (Date.now() < deadline) {
      for (const a of agents) if (a.proc.child.exitCode !== null) throw new Error(`the ${a.name} exited: ${a.proc.lines.slice(-5).join(' | ')}`);
      if (floor.proc.child.exitCode !== null) throw new Error('the floor process exited');
      await sleep(1_000);
    }
    const all = [floor, ...agents];
    const series = await sampleAll(all.map((p) => ({ name: p.name, sample: p.proc.sample })));
    const floorRss = median(series[0].rss);
    const floorWs = series[0].ws.length ? median(series[0].ws) : undefined;
    const figures = [];
    for (const [i, p] of all.entries()) {
      const s = series[i];
      const f = {
        bench: 'agent steady-state memory',
        round,
        process: p.name,
        flags: label,
        settleSeconds: SETTLE_MS / 1000,
        samples: SAMPLES,
        rssMiB: stats(s.rss),
        anonMiB: mib(median(s.anon)),
        fileMiB: mib(median(s.file)),
        workingSetMiB: s.ws.length ? stats(s.ws) : p.proc.workingSet,
      };
      if (p !== floor) {
        f.rssToFloor = +(median(s.rss) / floorRss).toFixed(2);
        if (floorWs !== undefined && s.ws.length) f.workingSetToFloor = +(median(s.ws) / floorWs).toFixed(2);
        f.peakMiB = mib(procKib(p.proc.child.pid, 'VmHWM') ?? 0);
        f.readyz = (await fetch(`${healths[i - 1].replace(/\/$/, '')}/readyz`)).status;
        f.publishedProvider = JSON.parse(k8s.kubectl('get', 'nodemetadatas.nodemeta.io', p.node, '-o', 'json')).status?.provider ?? null;
        f.errorLogLines = p.proc.lines.filter((l) => /"level":"error"/.test(l)).length;
        f.targetMiB = TARGET_MIB;
      }
      print(f);
      figures.push({ name: p.name, rss: median(s.rss), ws: s.ws.length ? median(s.ws) : undefined, rssToFloor: f.rssToFloor, wsToFloor: f.workingSetToFloor });
    }
    return figures;
  } finally {
    await Promise.all([floor, ...agents].map((p) => p.proc.stop()));
  }
}

/** With --rounds > 1: per process, the median over the rounds of each round's median. */
function printRounds(label, rounds) {
  for (const name of rounds[0].map((f) => f.name)) {
    const of = rounds.map((r) => r.find((f) => f.name === name));
    const pick = (key) => of.map((f) => f[key]).filter((x) => x !== undefined);
    const rss = pick('rss');
    const ws = pick('ws');
    const line = { bench: 'agent steady-state memory, median of rounds', process: name, flags: label, rounds: rounds.length, rssMiB: mib(median(rss)), rssPerRoundMiB: rss.map(mib) };
    if (ws.length) Object.assign(line, { workingSetMiB: mib(median(ws)), workingSetPerRoundMiB: ws.map(mib) });
    if (name !== 'floor') {
      line.rssToFloor = median(pick('rssToFloor'));
      if (pick('wsToFloor').length) line.workingSetToFloor = median(pick('wsToFloor'));
      line.targetMiB = TARGET_MIB;
      line.result = Math.max(mib(median(rss)), ws.length ? mib(median(ws)) : 0) <= TARGET_MIB ? 'pass' : 'FAIL';
    }
    print(line);
  }
}

async function oncePeak(run) {
  const child = spawn(process.execPath, [...V8_FLAGS, NODEMETA, 'agent', '--once', '--provider', run.provider, '--endpoint', run.endpoint, ...run.args, '--timeout', '60s'], {
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  let stdout = '';
  child.stdout.on('data', (d) => (stdout += d.toString()));
  let peak = 0;
  const exited = new Promise((resolve) => child.on('close', (code) => resolve(code)));
  while (child.exitCode === null) {
    peak = Math.max(peak, procKib(child.pid, 'VmHWM') ?? 0);
    await sleep(20);
  }
  const code = await exited;
  let provider = null;
  try {
    provider = JSON.parse(stdout).provider;
  } catch {
    // no observation printed
  }
  print({ bench: 'agent --once peak RSS (VmHWM)', provider: run.provider, flags: V8_FLAGS.join(' '), exit: code, observed: provider, peakMiB: mib(peak), targetMiB: TARGET_MIB });
}

const scratch = mkdtempSync(path.join(tmpdir(), 'nodemeta-agent-memory-'));
const emu = await emulators();
try {
  const k8s = cluster();

  // 1. Packages the agent loads: the long-running agent when a cluster is up, else --once.
  const probe = moduleProbe(scratch);
  const run0 = emu.runs[0];
  if (k8s.skip) {
    execFileSync(process.execPath, [...V8_FLAGS, ...probe.preload, NODEMETA, 'agent', '--once', '--endpoint', run0.endpoint], { stdio: 'ignore' });
  } else {
    const agent = startAgent({ v8Flags: V8_FLAGS, run: run0, node: k8s.nodes[0], kubeconfig: k8s.kubeconfig, preload: probe.preload });
    await agent.healthUrl();
    await sleep(8_000); // past detection, the first publish and a few polls
    await agent.stop();
  }
  const packages = probe.packages();
  const modules = probe.modules();
  print({
    bench: 'agent packages loaded',
    mode: k8s.skip ? '--once' : 'long-running',
    modules: modules.filter((url) => url.startsWith('file:')).length,
    builtins: modules.filter((url) => url.startsWith('node:')).length,
    packages,
    undici: packages.includes('undici') ? 'LOADED' : 'not loaded',
  });

  // 2. Steady state against the API server.
  if (k8s.skip) {
    print({ bench: 'agent steady-state memory', skipped: `${k8s.skip}; the long-running agent needs an API server` });
  } else {
    const variants = [{ label: V8_FLAGS.join(' '), v8Flags: V8_FLAGS }];
    if (values['without-flags']) variants.push({ label: 'none', v8Flags: [] });
    for (const variant of variants) {
      const rounds = [];
      for (let round = 1; round <= ROUNDS; round++) rounds.push(await steadyRound({ round, ...variant, emu, k8s }));
      if (ROUNDS > 1) printRounds(variant.label, rounds);
    }
  }

  // 3. One observation.
  for (const run of emu.runs) await oncePeak(run);
} finally {
  await emu.close();
  rmSync(scratch, { recursive: true, force: true });
}
