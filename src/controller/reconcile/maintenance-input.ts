// Everything the maintenance state machine (maintenance/state-machine.ts) needs to decide a node's
// next step, from the node's view and the fleet's facts: the drain budget, the approvals, the
// evictions this process made. Pure, given the facts.

import type { NodeMetadata } from '../../api/nodemetadata.js';
import type { Observation } from '../../api/observation.js';
import type { FleetView } from '../cache/fleet-index.js';
import type { NodeState } from '../cache/node-state.js';
import { drainBudget, type ControllerConfig } from '../config/config.js';
import type { PlannedAction } from '../decide/policy.js';
import { maintenanceToDecide } from '../dry-run/dry-run-status.js';
import { approvalReady } from '../maintenance/approval.js';
import { planDrain, type DrainPod } from '../maintenance/drain-plan.js';
import type { EvictionAttempt, MaintenanceInput } from '../maintenance/state-machine.js';
import { nodeScheduling } from './controller-status.js';

/** The node, its NodeMetadata (status as the state machine decides from it), and the moment. */
export interface StepSubject {
  node: NodeState;
  nodeMetadata: NodeMetadata;
  observation: Observation | undefined;
  active: PlannedAction | undefined;
  now: Date;
  cacheWarm: boolean;
  config: ControllerConfig;
}

/** What the node's step depends on beyond the node itself. */
export interface MaintenanceFacts {
  fleet: FleetView;
  /** Nodes this process has put into Draining (the reconciler's drain slots). */
  drainSlots: ReadonlySet<string>;
  /** The evictions this process made on the node. */
  evictions: EvictionAttempt[];
  /** A peer's NodeMetadata, read through our own writes. */
  nodeMetadata(name: string): NodeMetadata | undefined;
}

export function maintenanceInput(subject: StepSubject, facts: MaintenanceFacts, pods: DrainPod[]): MaintenanceInput {
  const { node, nodeMetadata, observation, active, config, now } = subject;
  const { fleet } = facts;
  const name = node.metadata.name;
  const drainingPeers = new Set([...facts.drainSlots, ...fleet.draining()]);
  drainingPeers.delete(name);
  // The event of the stored status (any phase): the peers' approvals of it count.
  const storedEventId = nodeMetadata.status?.maintenance?.eventId;
  return {
    current: nodeMetadata.status?.maintenance,
    active,
    provider: observation?.provider,
    node: nodeScheduling(node),
    pods: planDrain(pods, config.drain, now, active?.deadline),
    evictions: facts.evictions,
    budget: { draining: drainingPeers.size, limit: drainBudget(config.drain.maxConcurrentDrains, fleet.managedCount()) },
    approval: {
      resourcesDrained: resourcesDrained(subject, facts),
      approvedEventIds: (nodeMetadata.status?.approvals ?? []).map((approval) => approval.eventId),
      approvedByPeers: storedEventId !== undefined && fleet.approvedByOthers(storedEventId, name) ? [storedEventId] : [],
    },
    config,
    now,
    cacheWarm: subject.cacheWarm,
  };
}

/** Every cluster node the active event names is drained for it (maintenance/approval.ts). */
function resourcesDrained(subject: StepSubject, facts: MaintenanceFacts): boolean {
  const { node, nodeMetadata, observation, active, config } = subject;
  const event = active === undefined ? undefined : observation?.events.find((candidate) => candidate.id === active.eventId);
  if (event === undefined) return false;
  const name = node.metadata.name;
  const index = facts.fleet.vmIndex();
  const named = event.resources.map((vm) => index.nodesByVmName.get(vm.toLowerCase())).filter((peer) => peer !== undefined);
  // A real run does not count a peer's simulated Drained of a dry run (dry-run-status.ts).
  const phaseOf = (peer: string) => (peer === name ? nodeMetadata.status?.maintenance : maintenanceToDecide(facts.nodeMetadata(peer)?.status?.maintenance, config.dryRun));
  const phases = new Map(named.map((peer) => [peer, phaseOf(peer)]));
  return approvalReady({ id: event.id, resources: event.resources }, index, phases);
}
