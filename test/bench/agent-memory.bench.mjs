#!/usr/bin/env node
/* global process, console, setTimeout, clearTimeout, fetch */
// Memory of the node agent, which runs on every node: its target is ≤ 64 MiB RSS in steady state
// (DESIGN.md, "Runtime and libraries"). Built code (dist/, `make build`).
//
//   node test/bench/agent-memory.bench.mjs [--settle 60s] [--samples 10] [--without-flags]
//
// 1. Which npm packages the agent process loads (a module.registerHooks resolve hook, in a separate
//    run so that it costs the measured runs nothing): undici must not be among them, its HTTP parser
//    is WebAssembly, which --lite-mode does not run.
// 2. Per provider (Azure; Alibaba in hardened mode with tags), a long-running `nodemeta agent` started
//    as the DaemonSet starts it, `node --lite-mode --max-semi-space-size=1`, against the emulator and
//    the local cluster's API server (CLUSTER_DIR, default .cache/cluster: `make cluster-up`; the CRD
//    is applied here): after --settle of real polling (events every 1 s on Azure, 5 s on Alibaba), it
//    reads VmRSS from /proc/<pid>/status --samples times, 1 s apart, and prints min/median/max MiB
//    against the 64 MiB target. --without-flags measures the same agent without the V8 flags too.
//    Without a cluster this part is skipped (the long-running agent needs an API server).
// 3. Always: the peak RSS (VmHWM) of `agent --once` per provider, with the flags.
// Figures, not assertions: the exit status is 0 whenever the bench could run.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { startEmulator } from '../../dist/emulator/emulator.js';
import { parseDurationMs } from '../../dist/cmd/flags.js';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const NODEMETA = path.join(REPO, 'dist/cmd/nodemeta.js');
// NODEMETA_BENCH_V8_FLAGS (space-separated) replaces them, to compare other settings.
const V8_FLAGS = process.env.NODEMETA_BENCH_V8_FLAGS ? process.env.NODEMETA_BENCH_V8_FLAGS.split(' ').filter(Boolean) : ['--lite-mode', '--max-semi-space-size=1'];
const TARGET_MIB = 64;

const { values } = parseArgs({
  options: {
    settle: { type: 'string', default: '60s' },
    samples: { type: 'string', default: '10' },
    'without-flags': { type: 'boolean', default: false },
  },
});
const SETTLE_MS = parseDurationMs(values.settle) ?? 60_000;
const SAMPLES = Math.max(1, Number(values.samples) || 10);

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

function stats(kibs) {
  const s = [...kibs].sort((a, b) => a - b);
  return { minMiB: mib(s[0]), medianMiB: mib(s[Math.floor(s.length / 2)]), maxMiB: mib(s.at(-1)) };
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
    return { kubeconfig: info.kubeconfig, nodes, kubectl, apiServer: info.apiServer };
  } catch (err) {
    return { skip: `the cluster at ${dir} is not usable: ${String(err.stderr || err.message).trim().split('\n')[0]}` };
  }
}

/** Starts a long-running agent; resolves once its health server is up (URL from its log). */
function startAgent({ v8Flags, run, node, kubeconfig, env = {}, preload = [] }) {
  const args = [
    ...v8Flags,
    ...preload,
    NODEMETA,
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
  const child = spawn(process.execPath, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
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
  const exited = new Promise((resolve) => child.on('close', (code, signal) => resolve(signal ?? code)));
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
  const stop = async () => {
    if (child.exitCode === null) child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    const outcome = await exited;
    clearTimeout(timer);
    return outcome;
  };
  return { child, lines, healthUrl, stop };
}

/** The npm packages a process resolves, recorded by a resolve hook into `out`. */
function moduleProbe(dir) {
  const hook = path.join(dir, 'probe.mjs');
  const out = path.join(dir, 'packages.txt');
  writeFileSync(
    hook,
    `import { appendFileSync } from 'node:fs';
import { registerHooks } from 'node:module';
const seen = new Set();
registerHooks({
  resolve(specifier, context, nextResolve) {
    const result = nextResolve(specifier, context);
    const m = /\\/node_modules\\/((?:@[^/]+\\/)?[^/]+)\\//.exec(result.url);
    if (m && !seen.has(m[1])) {
      seen.add(m[1]);
      appendFileSync(${JSON.stringify(out)}, m[1] + '\\n');
    }
    return result;
  },
});
`,
  );
  return { preload: ['--import', hook], packages: () => (existsSync(out) ? readFileSync(out, 'utf8').split('\n').filter(Boolean).sort() : []) };
}

async function steadyState({ label, v8Flags, run, node, k8s }) {
  const agent = startAgent({ v8Flags, run, node, kubeconfig: k8s.kubeconfig });
  try {
    const health = await agent.healthUrl();
    const deadline = Date.now() + SETTLE_MS;
    while (Date.now() < deadline) {
      if (agent.child.exitCode !== null) throw new Error(`the agent exited: ${agent.lines.slice(-5).join(' | ')}`);
      await sleep(1_000);
    }
    const rss = [];
    for (let i = 0; i < SAMPLES; i++) {
      const kib = procKib(agent.child.pid, 'VmRSS');
      if (kib === undefined) throw new Error('the agent exited while being measured');
      rss.push(kib);
      if (i < SAMPLES - 1) await sleep(1_000);
    }
    // RSS is the agent's own (anonymous) memory plus the pages of files it maps, mostly the node
    // executable's code: those are shared with every process running the same binary and are
    // reclaimable page cache, not memory the agent allocated.
    const anonMiB = mib(procKib(agent.child.pid, 'RssAnon') ?? 0);
    const fileMiB = mib(procKib(agent.child.pid, 'RssFile') ?? 0);
    const ready = (await fetch(`${health.replace(/\/$/, '')}/readyz`)).status;
    const published = JSON.parse(k8s.kubectl('get', 'nodemetadatas.nodemeta.io', node, '-o', 'json')).status?.provider;
    const errors = agent.lines.filter((l) => /"level":"error"/.test(l)).length;
    const s = stats(rss);
    print({
      bench: 'agent steady-state RSS',
      provider: run.provider,
      flags: label,
      node,
      settleSeconds: SETTLE_MS / 1000,
      samples: SAMPLES,
      ...s,
      peakMiB: mib(procKib(agent.child.pid, 'VmHWM') ?? 0),
      anonMiB,
      fileMiB,
      readyz: ready,
      publishedProvider: published ?? null,
      errorLogLines: errors,
      targetMiB: TARGET_MIB,
      result: s.maxMiB <= TARGET_MIB ? 'pass' : 'FAIL',
    });
  } finally {
    await agent.stop();
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
  print({ bench: 'agent packages loaded', mode: k8s.skip ? '--once' : 'long-running', packages, undici: packages.includes('undici') ? 'LOADED' : 'not loaded' });

  // 2. Steady state against the API server.
  if (k8s.skip) {
    print({ bench: 'agent steady-state RSS', skipped: `${k8s.skip}; the long-running agent needs an API server` });
  } else {
    const variants = [{ label: V8_FLAGS.join(' '), v8Flags: V8_FLAGS }];
    if (values['without-flags']) variants.push({ label: 'none', v8Flags: [] });
    for (const variant of variants) {
      for (const [i, run] of emu.runs.entries()) {
        await steadyState({ ...variant, run, node: k8s.nodes[i % k8s.nodes.length], k8s });
      }
    }
  }

  // 3. One observation.
  for (const run of emu.runs) await oncePeak(run);
} finally {
  await emu.close();
  rmSync(scratch, { recursive: true, force: true });
}
