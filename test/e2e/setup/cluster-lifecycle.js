/* global process, console */
// Brings the local control plane up once per jest run (globalSetup) and down again (globalTeardown),
// even when tests fail. Plain JavaScript so jest loads it without a transform.
//
// - The tools are built first if the pins changed (test/tools/build.sh; a no-op when cached).
// - A cluster that a person started with `make cluster-up` is reused and left running.
// - A cluster started by a test run is marked (.cache/cluster/started-by-tests); it is torn down by the
//   last jest run that uses it (each run registers its pid in .cache/cluster/users/).
// - If jest exits without running globalTeardown (crash, Ctrl-C), an exit/signal hook tears down.
// - Set NODEMETA_E2E_KEEP_CLUSTER=1 to leave the cluster running after the tests for debugging.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const CLUSTER_DIR = process.env.CLUSTER_DIR ?? path.join(REPO_ROOT, '.cache/cluster');
const MARK = path.join(CLUSTER_DIR, 'started-by-tests');
const USERS = path.join(CLUSTER_DIR, 'users');
const me = path.join(USERS, String(process.pid));

let tornDown = false;

function run(cmd, args) {
  const r = spawnSync(cmd, args, { cwd: REPO_ROOT, stdio: ['ignore', 'inherit', 'inherit'], env: process.env });
  if (r.error) throw r.error;
  return r.status ?? 1;
}

function alive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function clusterRunning() {
  // cluster-up.sh is idempotent, but asking it would print; check the recorded state first.
  return existsSync(path.join(CLUSTER_DIR, 'cluster.json'));
}

function teardown(reason) {
  if (tornDown || !existsSync(me)) return; // this run never registered (setup failed or not ours)
  tornDown = true;
  rmSync(me, { force: true });
  if (process.env.NODEMETA_E2E_KEEP_CLUSTER === '1') {
    console.log(`[e2e] NODEMETA_E2E_KEEP_CLUSTER=1: leaving the cluster running (${CLUSTER_DIR})`);
    return;
  }
  if (!existsSync(MARK)) return; // started by a person: theirs to stop
  const others = existsSync(USERS) ? readdirSync(USERS).map(Number).filter((p) => p && alive(p)) : [];
  if (others.length > 0) {
    console.log(`[e2e] cluster still used by jest run(s) ${others.join(', ')}: not stopping it`);
    return;
  }
  console.log(`[e2e] stopping the local cluster (${reason})`);
  try {
    execFileSync(path.join(REPO_ROOT, 'scripts/cluster-down.sh'), { cwd: REPO_ROOT, stdio: ['ignore', 'inherit', 'inherit'] });
  } catch (err) {
    console.error(`[e2e] cluster-down failed: ${err instanceof Error ? err.message : String(err)}`);
  }
}

export async function setup() {
  const t0 = Date.now();
  // CLUSTER_BIN_DIR (also honoured by cluster-up.sh) points at binaries built elsewhere: no build then.
  if (!process.env.CLUSTER_BIN_DIR && run(path.join(REPO_ROOT, 'test/tools/build.sh'), []) !== 0) {
    throw new Error('building the control-plane tools failed (test/tools/build.sh); see the output above');
  }
  const wasRunning = clusterRunning();
  const args = process.env.NODEMETA_E2E_NODES ? ['--nodes', process.env.NODEMETA_E2E_NODES] : [];
  if (run(path.join(REPO_ROOT, 'scripts/cluster-up.sh'), args) !== 0) {
    // cluster-up.sh printed every component's log tail and stopped what it started.
    throw new Error('the local cluster did not come up (scripts/cluster-up.sh failed); see the log tails above');
  }
  if (!wasRunning) writeFileSync(MARK, `${process.pid}\n`);
  mkdirSync(USERS, { recursive: true });
  writeFileSync(me, '');
  process.once('exit', () => teardown('jest exited'));
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
    process.once(sig, () => {
      teardown(sig);
      process.exit(128 + (sig === 'SIGINT' ? 2 : sig === 'SIGTERM' ? 15 : 1));
    });
  }
  console.log(`[e2e] local cluster ready in ${((Date.now() - t0) / 1000).toFixed(1)}s (${wasRunning ? 'reused' : 'started'})`);
}

export async function teardownAfterRun() {
  teardown('end of the test run');
}
