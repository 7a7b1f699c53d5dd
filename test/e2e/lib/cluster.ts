// The local control plane for end-to-end tests (see docs/cluster.md).
//
// The e2e project's global setup (test/e2e/setup/global-setup.js) builds the tools if needed and runs
// scripts/cluster-up.sh once per jest run (process.env.CLUSTER_DIR says where); tests use this module:
//
//   const kc = kubeConfig();                     // admin KubeConfig (client cert, system:masters)
//   const core = kc.makeApiClient(CoreV1Api);
//   const ns = await createTestNamespace('my-test');
//   await waitFor('pod running', async () => ...);
//   kubectl(['get', 'nodes']);                   // the pinned kubectl, admin kubeconfig
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ApiException, CoreV1Api, KubeConfig, type V1Node } from '@kubernetes/client-node';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
/**
 * The cluster's directory: the jest global setup sets CLUSTER_DIR (a cluster of the run's own under
 * .cache/e2e-clusters/, or a running .cache/cluster that a person started); default .cache/cluster.
 */
export function clusterDir(): string {
  return process.env.CLUSTER_DIR ?? path.join(REPO_ROOT, '.cache/cluster');
}

/** What scripts/cluster-up.sh recorded in .cache/cluster/cluster.json. */
export interface ClusterInfo {
  clusterDir: string;
  kubeconfig: string;
  apiServer: string;
  binDir: string;
  kubeVersion: string;
  nodes: number;
  region: string;
  nodeNamePrefix: string;
  /** The API server's audit log (lib/audit.ts); absent for a cluster started by an older cluster-up.sh. */
  auditLog?: string;
  ports: {
    etcd: number;
    etcdPeer: number;
    apiServer: number;
    controllerManager: number;
    scheduler: number;
    kwok: number;
  };
}

/** The running cluster's description; throws if no cluster is up. */
export function clusterInfo(): ClusterInfo {
  const file = path.join(clusterDir(), 'cluster.json');
  if (!existsSync(file)) {
    throw new Error(`no local cluster: ${file} is missing (run 'make cluster-up', or run the e2e jest project)`);
  }
  return JSON.parse(readFileSync(file, 'utf8')) as ClusterInfo;
}

/** Path of the admin kubeconfig. */
export function kubeconfigPath(): string {
  return clusterInfo().kubeconfig;
}

/** A fresh admin KubeConfig for the local cluster. */
export function kubeConfig(): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromFile(kubeconfigPath());
  return kc;
}

/** A KubeConfig that authenticates with a bearer token (e.g. a service account's) instead of the admin cert. */
export function kubeConfigForToken(token: string, user = 'token-user'): KubeConfig {
  const admin = kubeConfig();
  const cluster = admin.getCurrentCluster();
  if (!cluster) throw new Error('admin kubeconfig has no current cluster');
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [cluster],
    users: [{ name: user, token }],
    contexts: [{ name: 'token', cluster: cluster.name, user }],
    currentContext: 'token',
  });
  return kc;
}

export type Tool = 'kubectl' | 'helm' | 'kube-apiserver' | 'kube-controller-manager' | 'kube-scheduler' | 'etcd' | 'kwok';

/** Absolute path of one of the pinned, built binaries. */
export function binPath(tool: Tool): string {
  return path.join(clusterInfo().binDir, tool);
}

export interface ExecResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a pinned binary without throwing on a non-zero exit. */
export function runTool(tool: Tool, args: string[], opts: { input?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<ExecResult> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      binPath(tool),
      args,
      { env: { ...process.env, ...opts.env }, timeout: opts.timeoutMs ?? 60_000, maxBuffer: 64 * 1024 * 1024 },
      (err, stdout, stderr) => {
        if (err && typeof (err as { code?: unknown }).code !== 'number') {
          reject(err);
          return;
        }
        resolve({ code: err ? Number((err as { code: number }).code) : 0, stdout, stderr });
      },
    );
    if (opts.input !== undefined) child.stdin?.end(opts.input);
  });
}

/** The pinned kubectl with the admin kubeconfig; resolves with code/stdout/stderr (never throws on exit codes). */
export function kubectl(args: string[], opts: { input?: string; timeoutMs?: number } = {}): Promise<ExecResult> {
  return runTool('kubectl', ['--kubeconfig', kubeconfigPath(), ...args], opts);
}

/** Like kubectl() but throws with stderr when the exit code is not 0; returns stdout. */
export async function kubectlOk(args: string[], opts: { input?: string; timeoutMs?: number } = {}): Promise<string> {
  const r = await kubectl(args, opts);
  if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')} exited ${r.code}: ${r.stderr.trim()}`);
  return r.stdout;
}

/**
 * Polls `fn` until it returns something other than undefined/false/null, and returns that value.
 * On timeout it throws with `what` and the last error or value seen, so a failing test says what it
 * waited for.
 */
export async function waitFor<T>(
  what: string,
  fn: () => Promise<T | undefined | null | false> | T | undefined | null | false,
  opts: { timeoutMs?: number; intervalMs?: number } = {},
): Promise<T> {
  const timeoutMs = opts.timeoutMs ?? 60_000;
  const intervalMs = opts.intervalMs ?? 250;
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined && v !== null && v !== false) return v;
      last = v;
    } catch (err) {
      last = err;
    }
    if (Date.now() >= deadline) {
      const detail = last instanceof Error ? last.message : JSON.stringify(last);
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} (last: ${detail})`);
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** HTTP status of a client-node error (ApiException), or undefined. */
export function apiStatus(err: unknown): number | undefined {
  if (err instanceof ApiException) return err.code;
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'number' ? code : undefined;
}

/** Resolves with the HTTP status (and the error's text: message and body) the call failed with; throws if it succeeded. */
export async function expectApiError(p: Promise<unknown>): Promise<{ status: number; body: unknown; text: string }> {
  try {
    await p;
  } catch (err) {
    const status = apiStatus(err);
    if (status === undefined) throw err;
    const body = err instanceof ApiException ? (err.body as unknown) : undefined;
    const text = `${err instanceof Error ? err.message : ''} ${typeof body === 'string' ? body : JSON.stringify(body)}`;
    return { status, body, text };
  }
  throw new Error('expected the API call to fail, but it succeeded');
}

let nsCounter = 0;
/** Creates a namespace with a unique name (prefix + random suffix) and waits for its default ServiceAccount. */
export async function createTestNamespace(prefix: string): Promise<string> {
  const core = kubeConfig().makeApiClient(CoreV1Api);
  const name = `${prefix}-${process.pid.toString(36)}-${(nsCounter++).toString(36)}-${Math.random().toString(36).slice(2, 7)}`
    .toLowerCase()
    .slice(0, 63);
  await core.createNamespace({ body: { metadata: { name, labels: { 'nodemeta.io/e2e': 'true' } } } });
  await waitFor(`ServiceAccount ${name}/default`, async () => {
    try {
      return await core.readNamespacedServiceAccount({ name: 'default', namespace: name });
    } catch (err) {
      if (apiStatus(err) === 404) return undefined;
      throw err;
    }
  });
  return name;
}

/** Deletes a namespace (does not wait for it to go away). */
export async function deleteTestNamespace(name: string): Promise<void> {
  const core = kubeConfig().makeApiClient(CoreV1Api);
  try {
    await core.deleteNamespace({ name });
  } catch (err) {
    if (apiStatus(err) !== 404) throw err;
  }
}

/** The simulated AKS nodes created by cluster-up (those named <nodeNamePrefix>XXXXXX), sorted by name. */
export async function simulatedNodes(): Promise<V1Node[]> {
  const core = kubeConfig().makeApiClient(CoreV1Api);
  const prefix = clusterInfo().nodeNamePrefix;
  const list = await core.listNode();
  return list.items
    .filter((n) => n.metadata?.name?.startsWith(prefix))
    .sort((a, b) => (a.metadata?.name ?? '').localeCompare(b.metadata?.name ?? ''));
}

/** The last lines of a component's log (etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kwok). */
export function componentLogTail(component: string, lines = 40): string {
  const file = path.join(clusterDir(), 'logs', `${component}.log`);
  if (!existsSync(file)) return `(no log at ${file})`;
  return execFileSync('tail', ['-n', String(lines), file], { encoding: 'utf8' });
}

/** The Kubernetes version pinned in test/tools/build.sh (what the API server must report). */
export function pinnedKubeVersion(): string {
  const script = readFileSync(path.join(REPO_ROOT, 'test/tools/build.sh'), 'utf8');
  const m = /^KUBE_VERSION=(v\d+\.\d+\.\d+)/m.exec(script);
  if (!m?.[1]) throw new Error('KUBE_VERSION not found in test/tools/build.sh');
  return m[1];
}
