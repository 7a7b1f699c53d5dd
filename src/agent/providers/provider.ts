import type { EventsSnapshot, InstanceSnapshot, ProviderName } from '../../api/observation.js';

/**
 * One cloud's metadata service, as the agent sees it. Implementations own their HTTP client,
 * request budget and retries; callers see normalised data or a MetadataError.
 */
export interface MetadataProvider {
  readonly name: ProviderName;
  /** Slow-changing data: instance facts and tags (poll about once a minute). */
  readInstance(signal?: AbortSignal): Promise<InstanceSnapshot>;
  /** Maintenance: scheduled/system events and spot termination (poll about once a second). */
  readEvents(signal?: AbortSignal): Promise<EventsSnapshot>;
  /** Starts a scheduled event early (Azure StartRequests). Providers without approval throw. */
  approve(eventId: string, signal?: AbortSignal): Promise<void>;
  /** Releases sockets and timers. */
  close(): Promise<void>;
}
