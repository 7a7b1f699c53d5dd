#!/usr/bin/env node
/* global process, console, fetch, setTimeout */
// How long from a change in a VM's metadata to the change on its Node, through every real part:
// emulated IMDS → agent process → NodeMetadata status (API server) → controller process → Node.
//
//   node test/bench/label-latency.bench.mjs [--changes 20] [--instance-interval 1s]
//
// Two figures, each over --changes changes: a tag value change until its tag.nodemeta.io label
// shows it (the agent reads instance data every --instance-interval; the production default is 60s,
// which adds up to that much), and a scheduled event until the nodemeta.io/scheduled-event taint
// (events are polled every second). Also the controller's and the agent's RSS at the end.
// Needs the control plane binaries (make tools); starts a cluster of its own and stops it.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { printSamples } from './lib/samples.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const NODEMETA = path.join(ROOT, 'dist/cmd/nodemeta.js');
const arg = (name, fallback) => {
  const i = process.argv.indexOf(name);
  return i < 0 ? fallback : process.argv[i + 1];
};
const CHANGES = Number(arg('--changes', '20'));
const INSTANCE_INTERVAL = arg('--instance-interval', '1s');
const CLUSTER_DIR = mkdtempSync(path.join(tmpdir(), 'nodemeta-bench-latency-'));
const NODE = 'aks-pool1-12345678-vmss000000';
const children = [];
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function sh(cmd, args, env = {}) {
  const res = spawnSync(cmd, args, { cwd: ROOT, encoding: 'utf8', env: { ...process.env, ...env } });
  if (res.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${res.stderr || res.stdout}`);
  return res.stdout;
}

function start(args, readLine) {
  const child = spawn(process.execPath, [NODEMETA, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'ignore'], env: { ...process.env, NODE_NAME: '' } });
  children.push(child);
  if (!readLine) return child.stdout.resume() && child;
  return new Promise((resolve) => child.stdout.setEncoding('utf8').once('data', (d) => resolve({ child, line: JSON.parse(d.split('\n')[0]) })));
}

const rssMiB = (pid) => {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? (Number(m[1]) / 1024).toFixed(1) : '?';
};


async function main() {
  sh('scripts/cluster-up.sh', ['--nodes', '1'], { CLUSTER_DIR });
  const cluster = JSON.parse(readFileSync(path.join(CLUSTER_DIR, 'cluster.json'), 'utf8'));
  const kubeconfig = cluster.kubeconfig;
  const kubectl = (...a) => sh(path.join(cluster.binDir, 'kubectl'), ['--kubeconfig', kubeconfig, ...a]);
  kubectl('apply', '--server-side', '-f', 'crds/');
  kubectl('wait', '--for=condition=Established', 'crd/nodemetadatas.nodemeta.io', '--timeout=60s');
  const config = path.join(CLUSTER_DIR, 'config.yaml');
  writeFileSync(config, 'labels:\n  allowedTags: [team]\n');

  const { line } = await start(['emulator', '--provider', 'azure', '--port', '0', '--vms', '1'], true);
  const control = async (method, p, body) => {
    const res = await fetch(`${line.listening}/_emulator${p}`, { method, headers: { 'content-type': 'application/json' }, body: body && JSON.stringify(body) });
    if (res.status >= 300) throw new Error(`${method} ${p}: ${res.status} ${await res.text()}`);
    const text = await res.text();
    return text ? JSON.parse(text) : {};
  };
  const agent = start(['agent', '--provider', 'azure', '--endpoint', `${line.listening}/vm/${NODE}`, '--node-name', NODE, '--kubeconfig', kubeconfig, '--metrics-addr', '127.0.0.1:0', '--instance-interval', INSTANCE_INTERVAL]);
  const controller = start(['controller', '--config', config, '--kubeconfig', kubeconfig, '--leader-elect=false', '--metrics-addr', '127.0.0.1:0']);

  // The Node as the API server has it, read directly (no informer of ours in the way).
  const node = () => JSON.parse(kubectl('get', 'node', NODE, '-o', 'json'));
  const waitNode = async (pred) => {
    for (const deadline = Date.now() + 120_000; Date.now() < deadline; await sleep(50)) if (pred(node())) return Date.now();
    throw new Error('timed out');
  };
  await waitNode((n) => n.metadata.labels['tag.nodemeta.io/team'] !== undefined);

  const tagLatency = [];
  for (let i = 0; i < CHANGES; i++) {
    const value = `v${i}`;
    const t = Date.now();
    await control('PATCH', `/vms/${NODE}`, { tags: [{ name: 'team', value }] });
    tagLatency.push((await waitNode((n) => n.metadata.labels['tag.nodemeta.io/team'] === value)) - t);
  }
  const taintLatency = [];
  for (let i = 0; i < CHANGES; i++) {
    const t = Date.now();
    const event = await control('POST', '/events', { type: 'Reboot', resources: [NODE], lifecycle: 'manual' });
    taintLatency.push((await waitNode((n) => (n.spec.taints ?? []).some((x) => x.key === 'nodemeta.io/scheduled-event'))) - t);
    await control('DELETE', `/events/${event.EventId}`);
    await waitNode((n) => !(n.spec.taints ?? []).some((x) => x.key === 'nodemeta.io/scheduled-event'));
  }
  console.log(`agent --instance-interval ${INSTANCE_INTERVAL}; Kubernetes ${cluster.kubeVersion}`);
  printSamples('tag change -> node label', tagLatency);
  printSamples('scheduled event -> node taint', taintLatency);
  console.log(`RSS: controller ${rssMiB(controller.pid)} MiB, agent ${rssMiB(agent.pid)} MiB (agent without --lite-mode here)`);
}

main()
  .catch((err) => {
    console.error(`label-latency bench failed: ${err.message}`);
    process.exitCode = 1;
  })
  .finally(async () => {
    for (const c of children) c.kill('SIGTERM');
    await sleep(1000);
    spawnSync(path.join(ROOT, 'scripts/cluster-down.sh'), [], { env: { ...process.env, CLUSTER_DIR }, stdio: 'ignore' });
  });
