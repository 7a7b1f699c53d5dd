// Faults of the local control plane's own processes, for the control-plane fault scenarios:
// kill a component and start it again with exactly the command line, environment and working
// directory it ran with (read from /proc before the kill), or pause and resume it.
//
// scripts/cluster-up.sh starts each component in its own session (its pid is its process-group id)
// and records that pid in pids/<component>.pid; a restarted component is started the same way and
// its pid recorded there, so scripts/cluster-down.sh stops it as usual.
import { spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { clusterDir, kubectl, waitFor } from './cluster.js';

export type Component = 'etcd' | 'kube-apiserver' | 'kube-controller-manager' | 'kube-scheduler' | 'kwok';

function pidFile(component: Component): string {
  return path.join(clusterDir(), 'pids', `${component}.pid`);
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
  start(): Promise<void>;
}

/** SIGKILLs the component's process group and waits until it is gone. */
export async function killComponent(component: Component): Promise<KilledComponent> {
  const pid = componentPid(component);
  const image = imageOf(pid);
  process.kill(-pid, 'SIGKILL');
  await waitFor(`${component} (pid ${pid}) to be gone`, () => !alive(pid), { timeoutMs: 10_000, intervalMs: 50 });
  const killedAt = Date.now();
  return {
    component,
    killedAt,
    start: async () => {
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

/** SIGSTOPs the component's process group (it holds its sockets open and answers nothing). */
export function pauseComponent(component: Component): () => void {
  const pid = componentPid(component);
  process.kill(-pid, 'SIGSTOP');
  return () => process.kill(-pid, 'SIGCONT');
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
