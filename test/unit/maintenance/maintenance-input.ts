// The maintenance state machine's input for the unit tests of its parts (state machine, deadline,
// load balancers first, other drainers): a quiet fleet (budget free, nothing approved, caches warm,
// an Azure node that takes pods) unless a test says otherwise. Each file sets its own event, pods and
// configuration over it.
import type { DrainPlan } from '../../../src/controller/maintenance/drain-plan.js';
import type { MaintenanceInput, MaintenanceStep, NodeScheduling } from '../../../src/controller/maintenance/state-machine.js';

export const schedulable: NodeScheduling = { unschedulable: false, cordonedFor: undefined, ready: true };
export const emptyPlan: DrainPlan = { evict: [], skipped: [], blocked: [], terminating: 0 };

export function maintenanceInput(given: Pick<MaintenanceInput, 'config' | 'now'> & Partial<MaintenanceInput>): MaintenanceInput {
  return {
    current: undefined,
    active: undefined,
    provider: 'azure',
    node: schedulable,
    pods: emptyPlan,
    evictions: [],
    budget: { draining: 0, limit: 1 },
    approval: { resourcesDrained: false, approvedEventIds: [] },
    cacheWarm: true,
    ...given,
  };
}

/** A step's actions by kind, an Emit by its reason. */
export const kinds = (step: MaintenanceStep): string[] => step.actions.map((action) => (action.kind === 'Emit' ? `Emit:${action.reason}` : action.kind));
