// Scenario files (docs/emulator.md, "Scenario files"): the fleet, initial events and settings, and
// a timeline of changes. A scenario is checked whole when it is loaded, by playing it on a scratch
// fleet, so a mistake anywhere (even in the last timeline entry) is reported at start-up with the
// field that is wrong.

import { parse as parseYaml } from 'yaml';
import { PROVIDERS, type ProviderName } from '../api/observation.js';
import { ManualClock } from './clock.js';
import { parseDuration } from './durations.js';
import { ConflictError, Fleet, NotFoundError, parseSettings, type Settings } from './fleet.js';
import { modelFor } from './providers.js';
import { applyTimelineEntry, TIMELINE_ACTIONS, type TimelineEntry } from './timeline.js';
import { expectKeys, expectObject, InputError } from './validation.js';

export interface Scenario {
  provider?: ProviderName;
  settings: Partial<Settings>;
  /** Raw VM bodies (`{name, instance?, network?, tags?, ...}`), checked against the fleet. */
  vms: unknown[];
  events: unknown[];
  timeline: TimelineEntry[];
}

export class ScenarioError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ScenarioError';
  }
}

const TOP_FIELDS = ['provider', 'settings', 'vms', 'events', 'timeline'];

/** Parses and checks the shape of a scenario document; throws ScenarioError naming the field. */
export function parseScenario(text: string): Scenario {
  let document: unknown;
  try {
    document = parseYaml(text);
  } catch (err) {
    throw new ScenarioError(`not valid YAML: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}`);
  }
  try {
    const body = expectObject(document ?? {}, '');
    expectKeys(body, TOP_FIELDS, '');
    const scenario: Scenario = { settings: {}, vms: [], events: [], timeline: [] };
    if (body.provider !== undefined) {
      if (typeof body.provider !== 'string' || !(PROVIDERS as readonly string[]).includes(body.provider)) {
        throw new InputError('provider', `must be one of ${PROVIDERS.join(', ')}`);
      }
      scenario.provider = body.provider as ProviderName;
    }
    if (body.settings !== undefined) scenario.settings = parseSettings(body.settings, 'settings');
    for (const key of ['vms', 'events'] as const) {
      if (body[key] === undefined) continue;
      if (!Array.isArray(body[key])) throw new InputError(key, 'must be a list');
      scenario[key] = body[key] as unknown[];
    }
    if (body.timeline !== undefined) {
      if (!Array.isArray(body.timeline)) throw new InputError('timeline', 'must be a list');
      scenario.timeline = body.timeline.map((entry, i) => parseTimelineEntry(entry, `timeline[${i}]`));
    }
    return scenario;
  } catch (err) {
    if (err instanceof InputError) throw new ScenarioError(err.message);
    throw err;
  }
}

function parseTimelineEntry(value: unknown, field: string): TimelineEntry {
  const entry = expectObject(value, field);
  expectKeys(entry, ['at', ...TIMELINE_ACTIONS], field);
  const at = entry.at;
  const atMs = typeof at === 'string' || typeof at === 'number' ? parseDuration(at) : undefined;
  if (atMs === undefined) throw new InputError(`${field}.at`, 'must be a duration after start, e.g. 10s, 2m, 1500ms');
  const actions = TIMELINE_ACTIONS.filter((a) => entry[a] !== undefined);
  if (actions.length !== 1) throw new InputError(field, `needs exactly one of ${TIMELINE_ACTIONS.join(', ')}`);
  const action = actions[0] as TimelineEntry['action'];
  return { atMs, action, body: entry[action], field };
}

/** Sets the fleet up from a scenario: settings, VMs (or `defaultVms` default ones), events. */
export function applyScenario(fleet: Fleet, scenario: Scenario, defaultVms: number): void {
  fleet.applySettings(scenario.settings);
  scenario.vms.forEach((body, i) => {
    const { name, patch } = fleet.parseNewVm(body, `vms[${i}]`);
    fleet.addVm(name, patch);
  });
  if (scenario.vms.length === 0) fleet.addDefaultVms(defaultVms);
  scenario.events.forEach((body, i) => fleet.addEvent(fleet.parseEvent(body, `events[${i}]`)));
}

/**
 * Plays the whole scenario on a scratch fleet; throws ScenarioError with the failing field.
 * Timeline entries run in time order, as they will for real.
 */
export function checkScenario(scenario: Scenario, provider: ProviderName, defaultVms: number, start: number): void {
  // Same start time as the real run: absolute notBefore times must play out the same way.
  const clock = new ManualClock(start);
  const fleet = new Fleet(modelFor(provider), clock);
  let field = '';
  try {
    applyScenario(fleet, scenario, defaultVms);
    for (const entry of [...scenario.timeline].sort((a, b) => a.atMs - b.atMs)) {
      field = entry.field;
      clock.set(start + entry.atMs);
      fleet.advance();
      applyTimelineEntry(fleet, entry);
    }
  } catch (err) {
    if (err instanceof InputError) throw new ScenarioError(err.message);
    if (err instanceof NotFoundError || err instanceof ConflictError) throw new ScenarioError(field ? `${field}: ${err.message}` : err.message);
    throw err;
  }
}
