// The Lease object behind leader election, through client-node (the controller's client).

import { CoordinationV1Api, V1MicroTime, type KubeConfig, type V1Lease } from '@kubernetes/client-node';
import { LeaseConflictError, type LeaseRecord, type LeaseStore } from '../runtime/leader-election.js';

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
  const statusOf = (err: unknown): number | undefined => (err as { code?: number }).code;
  return {
    async get() {
      try {
        return toRecord(await api.readNamespacedLease({ name, namespace }));
      } catch (err) {
        if (statusOf(err) === 404) return undefined;
        throw err;
      }
    },
    async create(record) {
      try {
        return toRecord(await api.createNamespacedLease({ namespace, body: toLease(record) }));
      } catch (err) {
        if (statusOf(err) === 409) throw new LeaseConflictError(`lease ${namespace}/${name} already exists`);
        throw err;
      }
    },
    async update(record) {
      try {
        return toRecord(await api.replaceNamespacedLease({ name, namespace, body: toLease(record) }));
      } catch (err) {
        if (statusOf(err) === 409) throw new LeaseConflictError(`lease ${namespace}/${name} changed meanwhile`);
        throw err;
      }
    },
  };
}
