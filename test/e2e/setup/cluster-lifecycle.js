/* global process, console */
// Brings a local control plane up once per jest run (globalSetup) and down again (globalTeardown),
// even when tests fail. Plain JavaScript so jest loads it without a transform.
//
// - The tools are built first if the pins changed (test/tools/build.sh; a no-op when cached).
// - A healthy cluster that a person started with `make cluster-up` (.cache/cluster, or CLUSTER_DIR if
//   set) is reused and left running.
// - Otherwise the run starts its own cluster in .cache/e2e-clusters/run-<pid>/ (own ports), so jest runs
//   in the same work tree at the same time never share or stop each other's cluster, and stops it at
//   the end. Clusters left by runs that were killed are stopped at the next run's start.
// - If jest exits without running globalTeardown (crash, Ctrl-C), an exit/signal hook tears down.
// - NODEMETA_E2E_KEEP_CLUSTER=1 leaves the run's cluster running for debugging;
//   NODEMETA_E2E_NODES=N asks for N simulated nodes (default 6).
// Tests find the cluster through process.env.CLUSTER_DIR (set here, inherited by jest's workers);
// test/e2e/lib/cluster.ts reads it.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const PERSONAL_DIR = process.env.CLUSTER_DIR ?? path.join(REPO_ROOT, '.cache/cluster');
const RUNS_DIR = path.join(REPO_ROOT, '.cache/e2e-clusters');

// The cluster dir this run started, while it runs; kept in the environment so that globalTeardown
// sees it even if jest loaded it as a separate module instance.
const OWNED = 'NODEMETA_E2E_OWNED_CLUSTER_DIR';

function run(script, args, env = {}) {
  const r = spawnSync(path.join(REPO_ROOT, script), args, {
    cwd: REPO_ROOT,
    stdio: ['ignore', 'inherit', 'inherit'],
    env: { ...process.env, ...env },
  });
  if (r.error) throw r.error;
  return r.status ?? 1;
}

function alive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return err.code === 'EPERM';
  }
}

function teardown(reason) {
  const dir = process.env[OWNED];
  if (!dir) return;
  delete process.env[OWNED];
  if (process.env.NODEMETA_E2E_KEEP_CLUSTER === '1') {
    console.log(`[e2e] NODEMETA_E2E_KEEP_CLUSTER=1: leaving the cluster running: CLUSTER_DIR=${dir} (stop: CLUSTER_DIR=${dir} scripts/cluster-down.sh)`);
    return;
  }
  console.log(`[e2e] stopping the run's cluster (${reason})`);
  if (run('scripts/cluster-down.sh', [], { CLUSTER_DIR: dir }) !== 0) console.error(`[e2e] cluster-down failed for ${dir}`);
  else rmSync(`${dir}.lock`, { force: true }); // the run's own lock file: nobody else uses this dir
}

function reapStaleRuns() {
  if (!existsSync(RUNS_DIR)) return;
  for (const name of readdirSync(RUNS_DIR)) {
    const lock = /^run-(\d+)\.lock$/.exec(name);
    if (lock && !alive(Number(lock[1])) && !existsSync(path.join(RUNS_DIR, `run-${lock[1]}`))) {
      rmSync(path.join(RUNS_DIR, name), { force: true });
      continue;
    }
    const m = /^run-(\d+)$/.exec(name);
    if (!m || alive(Number(m[1]))) continue;
    console.log(`[e2e] stopping a cluster left by jest run ${m[1]}, which is gone`);
    if (run('scripts/cluster-down.sh', [], { CLUSTER_DIR: path.join(RUNS_DIR, name) }) === 0) {
      rmSync(path.join(RUNS_DIR, `${name}.lock`), { force: true });
    }
  }
}

export async function setup() {
  const t0 = Date.now();
  // CLUSTER_BIN_DIR (also honoured by cluster-up.sh) points at binaries built elsewhere: no build then.
  if (!process.env.CLUSTER_BIN_DIR && run('test/tools/build.sh', []) !== 0) {
    throw new Error('building the control-plane tools failed (test/tools/build.sh); see the output above');
  }
  if (existsSync(path.join(PERSONAL_DIR, 'cluster.json')) && run('scripts/cluster-up.sh', ['--status'], { CLUSTER_DIR: PERSONAL_DIR }) === 0) {
    process.env.CLUSTER_DIR = PERSONAL_DIR;
    console.log(`[e2e] using the running cluster at ${PERSONAL_DIR} (left running)`);
    return;
  }
  reapStaleRuns();
  const dir = path.join(RUNS_DIR, `run-${process.pid}`);
  process.env[OWNED] = dir;
  process.once('exit', () => teardown('jest exited'));
  for (const [sig, code] of [['SIGINT', 130], ['SIGTERM', 143], ['SIGHUP', 129]]) {
    process.once(sig, () => {
      teardown(sig);
      process.exit(code);
    });
  }
  const args = process.env.NODEMETA_E2E_NODES ? ['--nodes', process.env.NODEMETA_E2E_NODES] : [];
  if (run('scripts/cluster-up.sh', args, { CLUSTER_DIR: dir }) !== 0) {
    delete process.env[OWNED]; // cluster-up.sh printed every component's log tail and stopped what it started
    throw new Error('the local cluster did not come up (scripts/cluster-up.sh failed); see the log tails above');
  }
  process.env.CLUSTER_DIR = dir;
  console.log(`[e2e] local cluster ready in ${((Date.now() - t0) / 1000).toFixed(1)}s: CLUSTER_DIR=${dir}`);
}

export async function teardownAfterRun() {
  teardown('end of the test run');
}
