// The Lease object behind leader election, through client-node (the controller's client).

import { CoordinationV1Api, V1MicroTime, type KubeConfig, type V1Lease } from '@kubernetes/client-node';
import { LeaseConflictError, type LeaseRecord, type LeaseStore } from '../../runtime/leader-election.js';
import { fromClientNodeError, isConflict, isNotFound, KubeApiError } from '../../api/kube-errors.js';

export function kubeLeaseStore(kubeConfig: KubeConfig, namespace: string, name: string): LeaseStore {
  const api = kubeConfig.makeApiClient(CoordinationV1Api);
  const toRecord = (lease: V1Lease): LeaseRecord => ({
    holderIdentity: lease.spec?.holderIdentity,
    leaseDurationSeconds: lease.spec?.leaseDurationSeconds,
    acquireTime: lease.spec?.acquireTime ? new Date(lease.spec.acquireTime) : undefined,
    renewTime: lease.spec?.renewTime ? new Date(lease.spec.renewTime) : undefined,
    leaseTransitions: lease.spec?.leaseTransitions,
    resourceVersion: lease.metadata?.resourceVersion,
  });
  const toLease = (record: LeaseRecord): V1Lease => ({
    apiVersion: 'coordination.k8s.io/v1',
    kind: 'Lease',
    metadata: { name, namespace, resourceVersion: record.resourceVersion },
    spec: {
      holderIdentity: record.holderIdentity,
      leaseDurationSeconds: record.leaseDurationSeconds,
      acquireTime: record.acquireTime && new V1MicroTime(record.acquireTime.getTime()),
      renewTime: record.renewTime && new V1MicroTime(record.renewTime.getTime()),
      leaseTransitions: record.leaseTransitions,
    },
  });
  const path = `/apis/coordination.k8s.io/v1/namespaces/${namespace}/leases`;
  return {
    async get() {
      try {
        return toRecord(await api.readNamespacedLease({ name, namespace }));
      } catch (err) {
        const error = fromClientNodeError(err, 'GET', `${path}/${name}`);
        if (isNotFound(error)) return undefined;
        throw leaseError(error, namespace);
      }
    },
    async create(record) {
      try {
        return toRecord(await api.createNamespacedLease({ namespace, body: toLease(record) }));
      } catch (err) {
        const error = fromClientNodeError(err, 'POST', path);
        if (isConflict(error)) throw new LeaseConflictError(`lease ${namespace}/${name} already exists`);
        throw leaseError(error, namespace);
      }
    },
    async update(record) {
      try {
        return toRecord(await api.replaceNamespacedLease({ name, namespace, body: toLease(record) }));
      } catch (err) {
        const error = fromClientNodeError(err, 'PUT', `${path}/${name}`);
        if (isConflict(error)) throw new LeaseConflictError(`lease ${namespace}/${name} changed meanwhile`);
        throw leaseError(error, namespace);
      }
    },
  };
}

/**
 * A lease request's failure as one line a person can act on. Creating a Lease in a namespace that
 * does not exist answers 404 (`namespaces "x" not found`): that says what to do about it.
 */
export function leaseError(error: unknown, namespace: string): unknown {
  if (error instanceof KubeApiError && error.method === 'POST' && isNotFound(error)) {
    return new Error(`namespace "${namespace}" does not exist: create it (kubectl create namespace ${namespace}) or choose another with --lease-namespace`, { cause: error });
  }
  return error;
}
