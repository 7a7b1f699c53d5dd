// Writes what the agent observed into NodeMetadata/<node>.status with server-side apply, as field
// manager nodemeta-agent: the agent's apply body is its whole intent, so a field it leaves out
// (a finished event, a tag removed) is removed, and the controller's fields are never touched.

import { API_VERSION, Conditions, FIELD_MANAGER_AGENT, GROUP, KIND, PLURAL, VERSION } from '../api/names.js';
import { findCondition, setCondition, type AgentStatus, type Approval, type Condition, type NodeMetadata } from '../api/nodemetadata.js';
import type { Observation } from '../api/observation.js';
import { isConflict, isNotFound } from '../api/kube-errors.js';
import type { KubeRestClient } from '../kube/rest-client.js';

export const nodeMetadataPath = (name: string) => `/apis/${GROUP}/${VERSION}/${PLURAL}/${encodeURIComponent(name)}`;

/** Whether the metadata service answers; becomes condition MetadataAvailable. */
export interface Availability {
  available: boolean;
  /** PascalCase: Observed, MetadataServiceUnavailable, Throttled, MalformedAnswer, ... */
  reason: string;
  message: string;
}

/**
 * The agent's part of the status. Pure: the same inputs give the same body. `observedTime` is the
 * time the agent last saw the service report something new; it is carried over from `previous`
 * otherwise, so that an unchanged observation yields an identical body and no write.
 */
export function agentStatusFor(
  observation: Observation | undefined,
  availability: Availability,
  approvals: readonly Approval[],
  previous: AgentStatus | undefined,
  now: Date,
): AgentStatus {
  const previousConditions = (previous?.conditions ?? []).filter((c) => c.type === Conditions.metadataAvailable);
  const conditions = setCondition(
    previousConditions,
    { type: Conditions.metadataAvailable, status: availability.available ? 'True' : 'False', reason: availability.reason, message: availability.message },
    now,
  );
  const status: AgentStatus = { conditions };
  if (observation) {
    status.provider = observation.provider;
    status.instance = observation.instance;
    if (observation.tags !== undefined) status.tags = observation.tags;
    status.events = observation.events;
    if (observation.spot !== undefined) status.spot = observation.spot;
    if (observation.incarnation !== undefined) status.incarnation = observation.incarnation;
    if (observation.rawSystemEvents !== undefined) status.rawSystemEvents = observation.rawSystemEvents;
    if (observation.warnings !== undefined && observation.warnings.length > 0) status.warnings = observation.warnings;
  }
  if (approvals.length > 0) status.approvals = [...approvals];
  const unchanged = previous !== undefined && canonical(observedPart(status)) === canonical(observedPart(previous));
  const observedTime = unchanged && previous?.observedTime ? previous.observedTime : observation ? now.toISOString() : previous?.observedTime;
  if (observedTime !== undefined) status.observedTime = observedTime;
  return status;
}

export function sameAgentStatus(a: AgentStatus | undefined, b: AgentStatus | undefined): boolean {
  return a !== undefined && b !== undefined && canonical(a) === canonical(b);
}

/** The agent's fields of a status as read back from the API server (which also holds the controller's). */
export function agentPartOf(status: NodeMetadata['status']): AgentStatus | undefined {
  if (!status) return undefined;
  const part: AgentStatus = {};
  const keys = ['provider', 'observedTime', 'instance', 'tags', 'events', 'spot', 'incarnation', 'rawSystemEvents', 'warnings', 'approvals'] as const;
  for (const key of keys) if (status[key] !== undefined) (part as Record<string, unknown>)[key] = status[key];
  const condition = findCondition(status.conditions, Conditions.metadataAvailable);
  if (condition) part.conditions = [condition];
  return part;
}

export interface ReadOptions {
  /**
   * Served from the API server's watch cache (resourceVersion=0): no etcd read, possibly a moment
   * old. For polls whose answer may come one poll later (an approval request), not for decisions
   * that must see the latest write.
   */
  fromCache?: boolean;
}

export interface NodeRef {
  name: string;
  uid: string;
}

export class NodeMetadataPublisher {
  /**
   * The Node, once read, until the create succeeds: a retried create does not read it again, but a
   * later one (NodeMetadata deleted, or its Node deleted and created again with a new uid) does.
   */
  private owner: NodeRef | undefined;

  constructor(
    private readonly client: KubeRestClient,
    private readonly nodeName: string,
  ) {}

  async read(options: ReadOptions = {}): Promise<NodeMetadata | undefined> {
    try {
      return await this.client.get<NodeMetadata>(nodeMetadataPath(this.nodeName), options.fromCache ? { query: { resourceVersion: '0' } } : {});
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  /**
   * The node's NodeMetadata, created if missing, owned by its Node so that deleting the Node
   * garbage-collects it (blockOwnerDeletion false: the agent may not set finalizers on Nodes).
   */
  async ensure(): Promise<NodeMetadata> {
    const existing = await this.read();
    if (existing) return existing;
    const node = (this.owner ??= (await this.client.get<{ metadata: NodeRef }>(`/api/v1/nodes/${encodeURIComponent(this.nodeName)}`)).metadata);
    const body: NodeMetadata = {
      apiVersion: API_VERSION,
      kind: KIND,
      metadata: {
        name: this.nodeName,
        ownerReferences: [{ apiVersion: 'v1', kind: 'Node', name: node.name, uid: node.uid, blockOwnerDeletion: false }],
      },
    };
    try {
      const created = await this.client.create<NodeMetadata>(`/apis/${GROUP}/${VERSION}/${PLURAL}`, body, { query: { fieldManager: FIELD_MANAGER_AGENT } });
      this.owner = undefined;
      return created;
    } catch (err) {
      if (!isConflict(err)) throw err; // created meanwhile (a previous instance of this agent)
      const created = await this.read();
      if (!created) throw err;
      return created;
    }
  }

  /** Applies the agent's status; force: these fields are the agent's alone. */
  async applyStatus(status: AgentStatus): Promise<NodeMetadata> {
    const body = { apiVersion: API_VERSION, kind: KIND, metadata: { name: this.nodeName }, status };
    return this.client.apply<NodeMetadata>(`${nodeMetadataPath(this.nodeName)}/status`, body, FIELD_MANAGER_AGENT, { force: true });
  }
}

/** What the service reported: observedTime moves only when this changes (not with the condition). */
function observedPart(status: AgentStatus): AgentStatus {
  const { observedTime: _observedTime, conditions: _conditions, approvals: _approvals, ...rest } = status;
  return rest;
}

/** JSON with sorted keys, so that two equal objects compare equal whatever their key order. */
function canonical(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => a.localeCompare(b))) : v,
  );
}

export type { Condition };
