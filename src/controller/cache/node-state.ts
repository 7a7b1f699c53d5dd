// The parts of a Node the controller reads (cache/cluster-state.ts makes them from client-node's
// objects). Apart so that the pure deciders (decide/) can take a NodeState without importing the
// cache and the writer interfaces, which import them in turn.

import type { ManagedFieldsEntry } from '../decide/labels.js';
import type { Taint } from '../decide/taints.js';

/** The parts of a Node the controller reads, as plain JSON (timestamps as the API server writes them). */
export interface NodeState {
  metadata: {
    name: string;
    uid?: string;
    resourceVersion?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    managedFields?: ManagedFieldsEntry[];
  };
  spec?: {
    taints?: Taint[];
    unschedulable?: boolean;
    /** The cloud's id of the VM, e.g. `azure:///subscriptions/…/virtualMachines/3`. */
    providerID?: string;
  };
  /** The node's Ready condition is True (status.conditions). */
  ready?: boolean;
}
