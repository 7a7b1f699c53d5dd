// Faults of the local control plane's own processes, for the control-plane fault scenarios:
// kill a component and start it again with exactly the command line, environment and working
// directory it ran with (read from /proc before the kill), or pause and resume it.
//
// scripts/cluster-up.sh starts each component in its own session (its pid is its process-group id)
// and records that pid in pids/<component>.pid; a restarted component is started the same way and
// its pid recorded there, so scripts/cluster-down.sh stops it as usual.
//
// Two guards, so that a fault scenario harms nothing but itself:
// - It runs only against a cluster the jest run started itself (test/e2e/setup/cluster-lifecycle.js),
//   never against one a developer started with `make cluster-up` and works with, unless
//   NODEMETA_E2E_FAULTS_ON_ANY_CLUSTER=1 says so.
// - ControlPlaneFaults remembers what a scenario stopped: `reviveAll()` (in an afterEach) starts
//   again whatever a scenario that threw left down, so the later scenarios and files find a cluster.
import { spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { clusterDir, kubectl, waitFor } from './cluster.js';

export type Component = 'etcd' | 'kube-apiserver' | 'kube-controller-manager' | 'kube-scheduler' | 'kwok';

function pidFile(component: Component): string {
  return path.join(clusterDir(), 'pids', `${component}.pid`);
}

/** Set to 1 to let the fault scenarios stop the components of a cluster the jest run did not start. */
export const FAULTS_ON_ANY_CLUSTER = 'NODEMETA_E2E_FAULTS_ON_ANY_CLUSTER';
/** Where the jest run's global setup records the cluster it started (test/e2e/setup/cluster-lifecycle.js). */
const OWNED_CLUSTER = 'NODEMETA_E2E_OWNED_CLUSTER_DIR';

/** Throws unless the cluster in use is the one this jest run started (or FAULTS_ON_ANY_CLUSTER=1). */
export function assertFaultsAllowed(): void {
  if (process.env[FAULTS_ON_ANY_CLUSTER] === '1') return;
  const owned = process.env[OWNED_CLUSTER];
  if (owned !== undefined && path.resolve(owned) === path.resolve(clusterDir())) return;
  throw new Error(
    `the control-plane fault scenarios kill and pause the API server and etcd of the cluster they run against, and ${clusterDir()} was not started by this jest run ` +
      `(a cluster started with 'make cluster-up' is reused): stop it ('make cluster-down') so that the run starts its own, or set ${FAULTS_ON_ANY_CLUSTER}=1`,
  );
}

/** The component's pid (= its process group), checked to be running the component's binary. */
export function componentPid(component: Component): number {
  const pid = Number(readFileSync(pidFile(component), 'utf8').trim());
  const exe = path.basename(readlinkSync(`/proc/${pid}/exe`));
  if (exe !== component) throw new Error(`pid ${pid} of ${component} runs ${exe}`);
  return pid;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** What it takes to start a process again as it was. */
interface ProcessImage {
  argv: string[];
  env: NodeJS.ProcessEnv;
  cwd: string;
}

function imageOf(pid: number): ProcessImage {
  const nulSeparated = (file: string) => readFileSync(`/proc/${pid}/${file}`, 'utf8').split('\0').filter((part) => part !== '');
  const env: NodeJS.ProcessEnv = {};
  for (const entry of nulSeparated('environ')) {
    const at = entry.indexOf('=');
    if (at > 0) env[entry.slice(0, at)] = entry.slice(at + 1);
  }
  return { argv: nulSeparated('cmdline'), env, cwd: readlinkSync(`/proc/${pid}/cwd`) };
}

/** A component that was killed: `start()` runs it again with the same command line. */
export interface KilledComponent {
  component: Component;
  /** Epoch ms when it was gone. */
  killedAt: number;
  /** Whether start() was called. */
  readonly started: boolean;
  start(): Promise<void>;
}

/** SIGKILLs the component's process group and waits until it is gone. `start()` starts it once (later calls do nothing). */
export async function killComponent(component: Component): Promise<KilledComponent> {
  assertFaultsAllowed();
  const pid = componentPid(component);
  const image = imageOf(pid);
  process.kill(-pid, 'SIGKILL');
  await waitFor(`${component} (pid ${pid}) to be gone`, () => !alive(pid), { timeoutMs: 10_000, intervalMs: 50 });
  const killedAt = Date.now();
  let started = false;
  return {
    component,
    killedAt,
    get started() {
      return started;
    },
    start: async () => {
      if (started) return;
      started = true;
      const log = openSync(path.join(clusterDir(), 'logs', `${component}.log`), 'a');
      try {
        const [file, ...args] = image.argv;
        // detached: its own session and process group, as cluster-up.sh's setsid; it outlives the test.
        const child = spawn(file!, args, { cwd: image.cwd, env: image.env, detached: true, stdio: ['ignore', log, log] });
        if (child.pid === undefined) throw new Error(`${component} did not start`);
        child.unref();
        writeFileSync(pidFile(component), `${child.pid}\n`);
      } finally {
        closeSync(log);
      }
    },
  };
}

/** SIGSTOPs the component's process group (it holds its sockets open and answers nothing); returns its resume (once). */
export function pauseComponent(component: Component): () => void {
  assertFaultsAllowed();
  const pid = componentPid(component);
  process.kill(-pid, 'SIGSTOP');
  let resumed = false;
  return () => {
    if (resumed) return;
    resumed = true;
    process.kill(-pid, 'SIGCONT');
  };
}

/**
 * The faults of one test file: every kill and pause goes through it, and `reviveAll()` (in the file's
 * afterEach) starts again or resumes whatever a scenario left stopped, in the order it was stopped
 * (etcd before the API server that needs it), then waits for the API server.
 */
export class ControlPlaneFaults {
  private readonly stopped: { component: Component; revive: () => Promise<void> | void; done: () => boolean }[] = [];

  async kill(component: Component): Promise<KilledComponent> {
    const killed = await killComponent(component);
    this.stopped.push({ component, revive: () => killed.start(), done: () => killed.started });
    return killed;
  }

  pause(component: Component): () => void {
    const resume = pauseComponent(component);
    let resumed = false;
    const once = () => {
      resumed = true;
      resume();
    };
    this.stopped.push({ component, revive: once, done: () => resumed });
    return once;
  }

  /** Starts again or resumes what is still stopped; returns which components it had to revive. */
  async reviveAll(): Promise<Component[]> {
    const left = this.stopped.splice(0).filter((fault) => !fault.done());
    for (const fault of left) await fault.revive();
    if (left.length > 0) await apiServerReady();
    return left.map((fault) => fault.component);
  }
}

/** Waits until the API server answers /readyz (which includes its etcd check) with ok. */
export async function apiServerReady(timeoutMs = 120_000): Promise<void> {
  await waitFor(
    'kube-apiserver /readyz',
    async () => {
      const r = await kubectl(['get', '--raw', '/readyz', '--request-timeout=5s'], { timeoutMs: 10_000 });
      return r.code === 0 && r.stdout.trim() === 'ok';
    },
    { timeoutMs, intervalMs: 250 },
  );
}
