// What an agent observes about its VM, provider-neutral. This is the agent-owned part of
// NodeMetadata.status (docs/architecture.md, "Public contract"). Both metadata-service clients
// normalise into these types; the controller reads only these.

export type ProviderName = 'azure' | 'alibaba';
export const PROVIDERS: readonly ProviderName[] = ['azure', 'alibaba'];

export type Priority = 'regular' | 'spot' | 'low';

/** Slow-changing facts about the VM. A field is absent when the service has no value for it. */
export interface InstanceInfo {
  id?: string;
  name?: string;
  hostname?: string;
  /** Azure: location, lower-cased (`swedencentral`, as AKS's topology label); Alibaba: region-id (`cn-hangzhou`). */
  region?: string;
  /** Azure: `<location>-<zone>` when zonal (e.g. `westeurope-2`); Alibaba: zone-id (`cn-hangzhou-h`). */
  zone?: string;
  faultDomain?: string;
  updateDomain?: string;
  subFaultDomain?: string;
  instanceType?: string;
  priority?: Priority;
  evictionPolicy?: string;
  scaleSet?: string;
  resourceGroup?: string;
}

export interface Tag {
  name: string;
  value: string;
}

/** Normalised event types. Alibaba's `SystemMaintenance.Reboot` becomes `Reboot` (rawType keeps the original). */
export type EventType = 'Freeze' | 'Reboot' | 'Redeploy' | 'Preempt' | 'Terminate' | 'Unknown';
export const EVENT_TYPES: readonly EventType[] = ['Freeze', 'Reboot', 'Redeploy', 'Preempt', 'Terminate', 'Unknown'];

export type EventStatus = 'Scheduled' | 'Started' | 'Unknown';
export type EventSource = 'Platform' | 'User' | 'Unknown';

export interface ScheduledEvent {
  id: string;
  type: EventType;
  /** The provider's own type string, e.g. `Reboot` or `SystemMaintenance.Reboot`. */
  rawType: string;
  status: EventStatus;
  /** ISO 8601 UTC (`2026-11-22T10:00:00.000Z`); absent when the service gives none (e.g. once started). */
  notBefore?: string;
  /** -1 unknown, 0 no interruption. Absent when the service does not say. */
  durationSeconds?: number;
  source: EventSource;
  description?: string;
  /** Azure: VM names the event applies to (approval starts maintenance for all of them). */
  resources: string[];
}

export interface SpotInfo {
  /** ISO 8601 UTC time the platform reclaims the instance. */
  terminationTime: string;
}

/** The slow poll: instance facts and tags. */
export interface InstanceSnapshot {
  instance: InstanceInfo;
  /** undefined: the service does not expose tags (Alibaba with tags-in-metadata disabled). */
  tags: Tag[] | undefined;
  /** Per-item problems met while normalising (a value dropped, a tag too long); absent when none. */
  warnings?: string[];
}

/** The fast poll: maintenance that concerns this VM. */
export interface EventsSnapshot {
  /** Only events that concern this VM (Azure: `Resources` names it). */
  events: ScheduledEvent[];
  spot: SpotInfo | undefined;
  /** Azure's DocumentIncarnation. */
  incarnation?: number;
  /** Alibaba: the raw text of active-system-events (format undocumented), bounded, for people to read. */
  rawSystemEvents?: string;
  /** Per-item problems met while normalising (an event dropped, a NotBefore unreadable); absent when none. */
  warnings?: string[];
}

export interface Observation extends InstanceSnapshot, EventsSnapshot {
  provider: ProviderName;
  /** ISO 8601 UTC time of the last successful poll. */
  observedTime: string;
}
