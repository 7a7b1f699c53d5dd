// The out-of-service taint (config `outOfServiceTaint`, off by default). Pure.
//
// When a VM is terminated or preempted, its node stops reporting and turns NotReady, but Kubernetes
// does not know the VM is gone: the pods stay "Terminating" on it and a StatefulSet's pod, whose
// volume stays attached to the dead node, cannot start elsewhere (for minutes, or until a person
// steps in). Kubernetes' non-graceful node shutdown handles that: the taint
// `node.kubernetes.io/out-of-service=nodeshutdown:NoExecute` makes the pod GC force-delete the
// node's pods and the attach-detach controller detach their volumes at once
// (https://kubernetes.io/docs/concepts/cluster-administration/node-shutdown/#non-graceful-node-shutdown).
//
// nodemeta knows what a person would have to find out: the event that takes the VM for good
// (Terminate, Preempt, a spot reclaim) has started. So with the option on, once such an event has
// started (its NotBefore or termination time passed, or the platform reports it started) AND the
// node is NotReady, nodemeta adds the taint; it removes it when the node is Ready again (the VM came
// back after all) or the event is gone. The risk, and why it is off by default: if the node is only
// cut off from the API server while its VM still runs, the pods are deleted from the API while
// their containers may still run, and a volume that does not fence writers may be written from two
// places. Only events that end the VM count (never Reboot, Redeploy or Freeze: the VM comes back).
//
// Like the cordon, the taint carries an annotation (nodemeta.io/out-of-service = event id) so that
// nodemeta removes only a taint it added: one a person added stays.

import { Annotations } from '../../api/names.js';
import type { Observation } from '../../api/observation.js';
import type { NodeState } from '../cache/node-state.js';
import type { EventRules } from '../config/config.js';
import { plannedEvents } from './active-event.js';
import { taintsPatch, type Taint } from './taints.js';
import { removeAnnotationPatch, setAnnotationsPatch, type JsonPatchOperation } from './patch-ops.js';

export const OUT_OF_SERVICE_TAINT: Taint = { key: 'node.kubernetes.io/out-of-service', value: 'nodeshutdown', effect: 'NoExecute' };

/** The event types after which the VM does not come back. */
const ENDS_THE_VM: readonly string[] = ['Terminate', 'Preempt', 'SpotTermination'];

/**
 * The event id the taint is wanted for now, or undefined. Not the node's active event: any event
 * that ends the VM and has started calls for the taint, whichever event the node acts on; of the
 * events planned as for the active one (decide/active-event.ts), the first by id names it.
 */
export function outOfServiceFor(node: NodeState, observation: Observation | undefined, rules: EventRules, now: Date, enabled: boolean): string | undefined {
  if (!enabled || observation === undefined || node.ready !== false) return undefined;
  const ending = plannedEvents(observation, rules, now).filter((plan) => ENDS_THE_VM.includes(plan.eventType));
  const started = ending.filter((plan) => plan.deadline === undefined || plan.deadline <= now.getTime());
  return started.map((plan) => plan.eventId).sort()[0];
}

/**
 * The guarded JSON patch that brings the node to `wantedFor` (add the taint for that event, or take
 * nodemeta's taint away when undefined), or undefined when the node is as wanted. The taint list is
 * tested as read (taintsPatch) and the annotation too, so a change made meanwhile fails the write (422).
 */
export function outOfServicePatch(node: NodeState, wantedFor: string | undefined): JsonPatchOperation[] | undefined {
  const taints = node.spec?.taints ?? [];
  const annotations = node.metadata.annotations;
  const ours = annotations?.[Annotations.outOfService];
  const tainted = taints.some((taint) => taint.key === OUT_OF_SERVICE_TAINT.key);
  if (wantedFor !== undefined) {
    if (tainted) return undefined; // ours already, or a person's: either way the node has it.
    return [...taintsPatch(taints, [...taints, OUT_OF_SERVICE_TAINT]), ...setAnnotationsPatch(annotations, { [Annotations.outOfService]: wantedFor })];
  }
  if (ours === undefined) return undefined;
  const kept = taints.filter((taint) => taint.key !== OUT_OF_SERVICE_TAINT.key);
  return [...(tainted ? taintsPatch(taints, kept) : []), ...removeAnnotationPatch(Annotations.outOfService, ours)];
}
