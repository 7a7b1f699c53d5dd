import type { Observation } from '../api/observation.js';
import type { Clock } from '../time/clock.js';
import type { MetadataProvider } from './providers/provider.js';

/**
 * One complete observation: the slow read (instance, tags) then the fast one (events, spot). This is
 * what the agent writes into NodeMetadata status; `nodemeta agent --once` prints it.
 */
export async function observeOnce(provider: MetadataProvider, clock: Clock, signal?: AbortSignal): Promise<Observation> {
  const instance = await provider.readInstance(signal);
  const events = await provider.readEvents(signal);
  const observation: Observation = {
    provider: provider.name,
    observedTime: new Date(clock.now()).toISOString(),
    instance: instance.instance,
    tags: instance.tags,
    events: events.events,
    spot: events.spot,
  };
  if (events.incarnation !== undefined) observation.incarnation = events.incarnation;
  if (events.rawSystemEvents !== undefined) observation.rawSystemEvents = events.rawSystemEvents;
  const warnings = [...(instance.warnings ?? []), ...(events.warnings ?? [])];
  if (warnings.length > 0) observation.warnings = warnings;
  return observation;
}
