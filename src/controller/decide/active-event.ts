// The events a node has and the one it acts on now, decided here once for every caller: the full
// reconcile (reconcile/), the fast path (protection.ts) and the out-of-service taint
// (out-of-service.ts). Pure.
//
// "The event the node is handling" is read from the maintenance status the state machine decides
// from (dry-run-status.ts maintenanceToDecide), never from the stored status as such: just after a
// dry run is switched off the stored status holds a simulated event that a real run does not take
// over, and a caller reading it would keep that event while the others pick another of equal rank
// (docs/architecture.md, "The active event").

import { MaintenancePhase, observationOf, type MaintenanceStatus, type NodeMetadata } from '../../api/nodemetadata.js';
import type { Observation } from '../../api/observation.js';
import type { NodeState } from '../cache/node-state.js';
import type { ControllerConfig, EventRules } from '../config/config.js';
import { heldByNodemeta } from './cordon.js';
import { maintenanceToDecide, type AfterDryRunFacts } from '../dry-run/dry-run-status.js';
import { planActions, rulesFor, selectActive, triggersFrom, type PlannedAction } from './policy.js';

/** A node's events as the controller acts on them. */
export interface NodeEvents {
  /** The agent's observation (undefined until it has published). */
  observation: Observation | undefined;
  /** The policy for this node (its provider's overrides, its spec.drain). */
  rules: EventRules;
  /** Every event (and spot reclaim) with its action and when it starts. */
  plans: PlannedAction[];
  /** What a real run picks up after a dry run (dry-run-status.ts). */
  afterDryRun: AfterDryRunFacts;
  /** The maintenance status the state machine decides from (maintenanceToDecide of the stored one). */
  decideFrom: MaintenanceStatus | undefined;
  /** The event the node acts on now: its taints, cordon and maintenance follow it. */
  active: PlannedAction | undefined;
}

/** Every event and spot reclaim of `observation` with its planned action (policy.ts). */
export function plannedEvents(observation: Observation | undefined, rules: EventRules, now: Date): PlannedAction[] {
  return planActions(triggersFrom(observation?.events ?? [], observation?.spot), rules, now);
}

/** The event a status is handling, if any: selectActive keeps it while it ranks level with the best. */
export function handledEventId(maintenance: MaintenanceStatus | undefined): string | undefined {
  return maintenance?.phase === MaintenancePhase.None ? undefined : maintenance?.eventId;
}

/** The node's events and the active one, from the caches' Node and NodeMetadata. */
export function nodeEvents(node: NodeState, nodeMetadata: NodeMetadata | undefined, config: Pick<ControllerConfig, 'policy' | 'dryRun'>, now: Date): NodeEvents {
  const observation = observationOf(nodeMetadata?.status);
  const rules = rulesFor(config.policy, observation?.provider, nodeMetadata?.spec, node.metadata.labels ?? {});
  const plans = plannedEvents(observation, rules, now);
  const held = heldByNodemeta(node);
  const afterDryRun: AfterDryRunFacts = { announced: new Set(plans.map((plan) => plan.eventId)), nodemetaHoldsNode: held.cordonedFor !== undefined || held.excludedFromLoadBalancers };
  const decideFrom = maintenanceToDecide(nodeMetadata?.status?.maintenance, config.dryRun, afterDryRun);
  const active = selectActive(plans, handledEventId(decideFrom));
  return { observation, rules, plans, afterDryRun, decideFrom, active };
}
