// Where a nodemeta process finds the API server and proves who it is, without
// @kubernetes/client-node (the agent runs on every node: it cannot afford that library's memory).
// In a pod: the service-account token, re-read as the kubelet rotates it. Outside: a kubeconfig.

// node:fs's readFile, not node:fs/promises': that module also loads readline and the REPL history
// (for FileHandle.readLines): 0.4 MiB of the agent's RSS (docs/scaling.md) for nothing it uses.
const fs = process.getBuiltinModule('node:fs');
function readFile(path: string, encoding: 'utf8'): Promise<string> {
  return new Promise((resolve, reject) => fs.readFile(path, encoding, (err, text) => (err ? reject(err) : resolve(text))));
}

export const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

export interface KubeCredentials {
  /** `https://host:port`, no trailing slash. */
  server: string;
  ca?: string;
  cert?: string;
  key?: string;
  /** Returns the current bearer token; called for every request, so a rotated token is picked up. */
  token?: () => Promise<string>;
  insecureSkipTLSVerify?: boolean;
  /** Where the credentials came from, for log lines and error messages. */
  source: string;
}

export class CredentialsError extends Error {
  override name = 'CredentialsError';
}

export interface InClusterOptions {
  env?: NodeJS.ProcessEnv;
  dir?: string;
  /** The kubelet rotates projected tokens (1 h by default); re-reading every minute is what client-go does. */
  tokenRefreshMs?: number;
  now?: () => number;
}

/** Credentials of the pod's service account (KUBERNETES_SERVICE_HOST/PORT and the projected token). */
export async function inClusterCredentials(options: InClusterOptions = {}): Promise<KubeCredentials> {
  const env = options.env ?? process.env;
  const dir = options.dir ?? SERVICE_ACCOUNT_DIR;
  const host = env.KUBERNETES_SERVICE_HOST;
  const port = env.KUBERNETES_SERVICE_PORT;
  if (!host || !port) {
    throw new CredentialsError('not running in a cluster: KUBERNETES_SERVICE_HOST/PORT are not set (use --kubeconfig)');
  }
  const tokenPath = `${dir}/token`;
  const ca = await readFile(`${dir}/ca.crt`, 'utf8').catch((err: unknown) => {
    throw new CredentialsError(`cannot read the cluster CA ${dir}/ca.crt: ${(err as Error).message}`);
  });
  const server = `https://${host.includes(':') ? `[${host}]` : host}:${port}`;
  return { server, ca, token: cachedFileToken(tokenPath, options.tokenRefreshMs ?? 60_000, options.now ?? Date.now), source: `in-cluster (${tokenPath})` };
}

/** A token read from a file, kept for `refreshMs`, then read again. A failed re-read keeps the last token. */
export function cachedFileToken(path: string, refreshMs: number, now: () => number): () => Promise<string> {
  let cached: { value: string; readAt: number } | undefined;
  return async () => {
    if (cached && now() - cached.readAt < refreshMs) return cached.value;
    try {
      const value = (await readFile(path, 'utf8')).trim();
      if (!value) throw new Error('file is empty');
      cached = { value, readAt: now() };
    } catch (err) {
      if (!cached) throw new CredentialsError(`cannot read the service-account token ${path}: ${(err as Error).message}`);
    }
    return cached.value;
  };
}

interface KubeconfigFile {
  'current-context'?: string;
  contexts?: { name: string; context: { cluster: string; user: string } }[];
  clusters?: { name: string; cluster: { server: string; 'certificate-authority-data'?: string; 'certificate-authority'?: string; 'insecure-skip-tls-verify'?: boolean } }[];
  users?: { name: string; user: { token?: string; tokenFile?: string; 'client-certificate-data'?: string; 'client-key-data'?: string; 'client-certificate'?: string; 'client-key'?: string } }[];
}

/**
 * A kubeconfig written as JSON (`kubectl config view --raw -o json`; JSON is YAML), or undefined. The
 * YAML parser is loaded only for the others: in a pod the agent reads no kubeconfig and never pays
 * for it (1 MiB of RSS), and the memory bench gives the agent a JSON kubeconfig to measure the same.
 */
function parseJson(text: string): unknown {
  if (!text.trimStart().startsWith('{')) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined; // a YAML flow mapping, or broken: the YAML parser says which
  }
}

/** Credentials from a kubeconfig file: its current context, or the one named. Client certs and tokens only. */
export async function kubeconfigCredentials(path: string, contextName?: string): Promise<KubeCredentials> {
  const text = await readFile(path, 'utf8').catch((err: unknown) => {
    throw new CredentialsError(`cannot read kubeconfig ${path}: ${(err as Error).message}`);
  });
  let doc: KubeconfigFile;
  try {
    doc = (parseJson(text) ?? (await import('yaml')).parse(text)) as KubeconfigFile;
  } catch (err) {
    throw new CredentialsError(`kubeconfig ${path} is not valid YAML: ${(err as Error).message}`);
  }
  const name = contextName ?? doc['current-context'];
  const context = doc.contexts?.find((c) => c.name === name)?.context;
  if (!context) throw new CredentialsError(`kubeconfig ${path}: context "${name ?? ''}" not found`);
  const cluster = doc.clusters?.find((c) => c.name === context.cluster)?.cluster;
  const user = doc.users?.find((u) => u.name === context.user)?.user;
  if (!cluster?.server) throw new CredentialsError(`kubeconfig ${path}: cluster "${context.cluster}" has no server`);
  if (!user) throw new CredentialsError(`kubeconfig ${path}: user "${context.user}" not found`);

  const fromData = (data: string | undefined) => (data ? Buffer.from(data, 'base64').toString('utf8') : undefined);
  const fromFile = async (file: string | undefined) => (file ? readFile(file, 'utf8') : undefined);
  const staticToken = user.token;
  const token = staticToken
    ? async () => staticToken
    : user.tokenFile
      ? cachedFileToken(user.tokenFile, 60_000, Date.now)
      : undefined;
  return {
    server: cluster.server.replace(/\/+$/, ''),
    ca: fromData(cluster['certificate-authority-data']) ?? (await fromFile(cluster['certificate-authority'])),
    cert: fromData(user['client-certificate-data']) ?? (await fromFile(user['client-certificate'])),
    key: fromData(user['client-key-data']) ?? (await fromFile(user['client-key'])),
    token,
    insecureSkipTLSVerify: cluster['insecure-skip-tls-verify'] === true,
    source: `kubeconfig ${path} (context ${name})`,
  };
}
