// The controller's client-node configuration: an explicit kubeconfig file when given (people
// running it outside a cluster, the e2e tests), otherwise the pod's service account.

import { KubeConfig } from '@kubernetes/client-node';

export interface KubeConfigSource {
  /** Path of a kubeconfig file; absent means in-cluster. */
  kubeconfig?: string;
  /** A context of that file other than its current one. */
  context?: string;
}

export function loadKubeConfig(source: KubeConfigSource = {}): KubeConfig {
  const kubeConfig = new KubeConfig();
  if (source.kubeconfig !== undefined) {
    kubeConfig.loadFromFile(source.kubeconfig);
    if (source.context !== undefined) kubeConfig.setCurrentContext(source.context);
  } else if (process.env.KUBERNETES_SERVICE_HOST !== undefined) {
    // In a pod: the service account token (re-read by client-node as it rotates) and the cluster CA.
    kubeConfig.loadFromCluster();
  } else {
    throw new Error('not running in a cluster (KUBERNETES_SERVICE_HOST is unset): pass --kubeconfig');
  }
  if (kubeConfig.getCurrentCluster() === null) throw new Error(`kubeconfig ${source.kubeconfig ?? '(in-cluster)'} has no current cluster`);
  return kubeConfig;
}
