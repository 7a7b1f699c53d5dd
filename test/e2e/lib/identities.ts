// An identity of its own for each process a test starts (a controller replica), so that the API
// server's audit log (lib/audit.ts) says which one wrote: a ServiceAccount per process, its token
// from the TokenRequest API written into a kubeconfig of its own. Impersonation would not do: the
// audit log records the impersonating user, and a replica could then claim any name.
//
// The ServiceAccounts live in one namespace, whose group is bound to cluster-admin: the replicas keep
// the rights they had with the admin kubeconfig (the chart's narrower RBAC is the chart tests'
// subject, not this). They stay until the cluster goes, one small object per replica started.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { CoreV1Api, RbacAuthorizationV1Api } from '@kubernetes/client-node';
import { parse } from 'yaml';
import { apiStatus, kubeConfig, kubeconfigPath } from './cluster.js';

/** The namespace of the replicas' ServiceAccounts. */
export const IDENTITIES_NAMESPACE = 'nodemeta-e2e-identities';
/**
 * A token outlives the longest test file (the node faults, about 6 min, a fault scenario 7 min at
 * most): an hour, the TokenRequest default, with room to spare.
 */
const TOKEN_SECONDS = 3600;

export interface Identity {
  /** The user name the API server authenticates (and audits) it as. */
  user: string;
  /** A kubeconfig that authenticates as it. */
  kubeconfig: string;
}

const ignoreConflict = (error: unknown) => {
  if (apiStatus(error) !== 409) throw error;
};

/** The namespace and its binding (idempotent: every caller may ask; the first creates them). */
async function ensureNamespace(): Promise<void> {
  const kc = kubeConfig();
  await kc.makeApiClient(CoreV1Api).createNamespace({ body: { metadata: { name: IDENTITIES_NAMESPACE, labels: { 'nodemeta.io/e2e': 'true' } } } }).catch(ignoreConflict);
  await kc
    .makeApiClient(RbacAuthorizationV1Api)
    .createClusterRoleBinding({
      body: {
        metadata: { name: IDENTITIES_NAMESPACE },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'cluster-admin' },
        subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'Group', name: `system:serviceaccounts:${IDENTITIES_NAMESPACE}` }],
      },
    })
    .catch(ignoreConflict);
}

/** A ServiceAccount name from a process name: lower case, [a-z0-9-], at most 63 characters. */
function accountName(name: string): string {
  const clean = name.toLowerCase().replace(/[^a-z0-9-]+/g, '-').replace(/^-+|-+$/g, '');
  return clean.slice(0, 63).replace(/-+$/, '') || 'replica';
}

/** A ServiceAccount for `name` (the same one if asked again), a fresh token for it, and a kubeconfig with that token. */
export async function identityFor(name: string): Promise<Identity> {
  await ensureNamespace();
  const core = kubeConfig().makeApiClient(CoreV1Api);
  const account = accountName(name);
  await core.createNamespacedServiceAccount({ namespace: IDENTITIES_NAMESPACE, body: { metadata: { name: account } } }).catch(ignoreConflict);
  const request = await core.createNamespacedServiceAccountToken({
    name: account,
    namespace: IDENTITIES_NAMESPACE,
    body: { spec: { audiences: [], expirationSeconds: TOKEN_SECONDS } },
  });
  const token = request.status?.token;
  if (token === undefined || token === '') throw new Error(`no token for ServiceAccount ${IDENTITIES_NAMESPACE}/${account}`);

  // The admin kubeconfig's cluster (server and CA), with the token as the user.
  const admin = parse(readFileSync(kubeconfigPath(), 'utf8')) as { clusters: { name: string; cluster: Record<string, unknown> }[] };
  const cluster = admin.clusters[0]!;
  const user = `system:serviceaccount:${IDENTITIES_NAMESPACE}:${account}`;
  const config = {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [cluster],
    users: [{ name: account, user: { token } }],
    contexts: [{ name: account, context: { cluster: cluster.name, user: account } }],
    'current-context': account,
  };
  const file = path.join(mkdtempSync(path.join(tmpdir(), 'nodemeta-e2e-identity-')), 'kubeconfig');
  writeFileSync(file, JSON.stringify(config), { mode: 0o600 });
  return { user, kubeconfig: file };
}
