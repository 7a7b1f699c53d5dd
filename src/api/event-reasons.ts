// The reasons of the Kubernetes Events nodemeta records, and of the conditions it sets. Users put
// these into alerts and `kubectl get events --field-selector reason=…`, and the notification sinks
// follow the maintenance transitions by them (controller/notifications/transitions.ts): a public
// contract (docs/architecture.md, "Public contract"; docs/maintenance.md lists what each means).
// Declared once here, so a reason spelt wrong anywhere is a compile error, not a lost notification.

/** Reasons of the Events the controller records on a Node (and, for ConfigRejected, its own pod). */
export const EventReasons = {
  // The maintenance state machine's transitions (controller/maintenance/state-machine.ts).
  MaintenanceScheduled: 'MaintenanceScheduled',
  NodeCordoned: 'NodeCordoned',
  DrainWaitingForBudget: 'DrainWaitingForBudget',
  DrainStarted: 'DrainStarted',
  /** The deadline cut drain.loadBalancerDrainDelay short (docs/maintenance.md, "Load balancers first"). */
  LoadBalancerDrainCut: 'LoadBalancerDrainCut',
  DrainStopped: 'DrainStopped',
  Drained: 'Drained',
  DrainFailed: 'DrainFailed',
  ApprovalRequested: 'ApprovalRequested',
  ApprovalWithdrawn: 'ApprovalWithdrawn',
  ApprovalWaitingForWindow: 'ApprovalWaitingForWindow',
  MaintenanceApproved: 'MaintenanceApproved',
  MaintenanceCompleted: 'MaintenanceCompleted',
  MaintenanceCancelled: 'MaintenanceCancelled',
  /** Another controller acts on the node (docs/maintenance.md, "Other controllers on the node"). */
  OtherDrainerActing: 'OtherDrainerActing',
  /** Someone uncordoned a node nodemeta had cordoned for its maintenance; nodemeta does not cordon it again. */
  UncordonedByOther: 'UncordonedByOther',
  /** An event was scheduled on a node that is not drain-ready (docs/maintenance.md, "Drain readiness"). */
  DrainAtRisk: 'DrainAtRisk',
  /** atDeadline: Delete deleted a pod still on the node, overriding its PDB (docs/maintenance.md, "The end of a blocked drain"). */
  PodDeletedAtDeadline: 'PodDeletedAtDeadline',
  /** atDeadline: Delete could not delete a pod (403: no `delete` on pods, or an error): it stays, as with Wait. */
  DeleteAtDeadlineFailed: 'DeleteAtDeadlineFailed',
  // The node writes of a reconcile and of the fast path.
  LabelsApplied: 'LabelsApplied',
  InvalidLabelSkipped: 'InvalidLabelSkipped',
  TaintsUpdated: 'TaintsUpdated',
  Cordoned: 'Cordoned',
  OutOfService: 'OutOfService',
  BackInService: 'BackInService',
  EvictionBlocked: 'EvictionBlocked',
  /** Dry run: what a real run would have written or evicted (docs/maintenance.md, "Dry run"). */
  DryRun: 'DryRun',
  /** A configuration reload was refused; the one in force stays. */
  ConfigRejected: 'ConfigRejected',
} as const;
export type EventReason = (typeof EventReasons)[keyof typeof EventReasons];

/** Reasons of the controller's conditions (Labeled, Drained) in NodeMetadata status. */
export const ConditionReasons = {
  LabelsApplied: 'LabelsApplied',
  InvalidLabels: 'InvalidLabels',
  LabelsOwnedElsewhere: 'LabelsOwnedElsewhere',
  Draining: 'Draining',
  /** Drained=False while the first eviction waits for the load balancers (drain.loadBalancerDrainDelay). */
  WaitingForLoadBalancers: 'WaitingForLoadBalancers',
  DrainFailed: 'DrainFailed',
  Drained: 'Drained',
  DryRun: 'DryRun',
  /** DrainReady=True: no pod would block a drain (docs/maintenance.md, "Drain readiness"). */
  NothingBlocks: 'NothingBlocks',
} as const;
export type ConditionReason = (typeof ConditionReasons)[keyof typeof ConditionReasons];

/**
 * Why a pod would block a drain: a blocker's `reason` in status.drainReadiness and the reason of
 * DrainReady=False. Public: users write them into alerts (docs/maintenance.md, "Drain readiness").
 */
export const DrainBlocker = {
  PodDisruptionBudget: 'PodDisruptionBudget',
  MultiplePodDisruptionBudgets: 'MultiplePodDisruptionBudgets',
  Unmanaged: 'Unmanaged',
  LocalStorage: 'LocalStorage',
} as const;
export type DrainBlocker = (typeof DrainBlocker)[keyof typeof DrainBlocker];

/** Risks that do not block a drain: a warning's `reason` in status.drainReadiness. */
export const DrainWarning = {
  SingleReplica: 'SingleReplica',
} as const;
export type DrainWarning = (typeof DrainWarning)[keyof typeof DrainWarning];
