// A scenario's timeline: changes that happen at a time after the emulator starts. Entries are
// applied when the clock reaches them (checked on every request and a few times a second), in
// order, each once.

import type { Logger } from '../observability/logger.js';
import type { Clock } from '../time/clock.js';
import { parseFaultSpec } from './faults.js';
import { type Fleet, NotFoundError, parseSettings } from './fleet.js';
import { expectObject, InputError, requiredString } from './validation.js';

export const TIMELINE_ACTIONS = ['event', 'patch', 'startEvent', 'removeEvent', 'addVm', 'removeVm', 'fault', 'clearFaults', 'settings'] as const;

export interface TimelineEntry {
  atMs: number;
  action: (typeof TIMELINE_ACTIONS)[number];
  body: unknown;
  /** Where it came from in the scenario file, for error messages. */
  field: string;
}

function idOf(body: unknown, field: string): string {
  if (typeof body !== 'string' || body === '') throw new InputError(field, 'must be a non-empty string');
  return body;
}

/** Applies one entry; throws InputError / NotFoundError / ConflictError when it cannot. */
export function applyTimelineEntry(fleet: Fleet, entry: TimelineEntry): void {
  const at = `${entry.field}.${entry.action}`;
  switch (entry.action) {
    case 'event':
      fleet.addEvent(fleet.parseEvent(entry.body, at));
      return;
    case 'patch': {
      const body = expectObject(entry.body, at);
      const name = requiredString(body, 'vm', at);
      const vm = fleet.getVm(name);
      if (!vm) throw new NotFoundError(`${at}.vm: no VM named "${name}"`);
      const { vm: _vm, ...rest } = body;
      fleet.applyVmPatch(vm, fleet.parseVmPatch(rest, at, vm.instance));
      return;
    }
    case 'startEvent': {
      const id = idOf(entry.body, at);
      if (!fleet.startEventNow(id)) throw new NotFoundError(`${at}: no event with id "${id}"`);
      return;
    }
    case 'removeEvent': {
      const id = idOf(entry.body, at);
      if (!fleet.removeEvent(id)) throw new NotFoundError(`${at}: no event with id "${id}"`);
      return;
    }
    case 'addVm': {
      const { name, patch } = fleet.parseNewVm(entry.body, at);
      fleet.addVm(name, patch);
      return;
    }
    case 'removeVm': {
      const name = idOf(entry.body, at);
      if (!fleet.removeVm(name)) throw new NotFoundError(`${at}: no VM named "${name}"`);
      return;
    }
    case 'fault': {
      const spec = parseFaultSpec(entry.body, at);
      if (spec.vm !== undefined && !fleet.getVm(spec.vm)) throw new NotFoundError(`${at}.vm: no VM named "${spec.vm}"`);
      fleet.faults.add(spec);
      return;
    }
    case 'clearFaults':
      fleet.faults.clear();
      return;
    case 'settings':
      fleet.applySettings(parseSettings(entry.body, at));
      return;
  }
}

export class Timeline {
  private readonly pending: TimelineEntry[];

  constructor(
    entries: TimelineEntry[],
    private readonly fleet: Fleet,
    private readonly clock: Pick<Clock, 'now'>,
    private readonly start: number,
    private readonly logger: Logger,
  ) {
    this.pending = [...entries].sort((a, b) => a.atMs - b.atMs);
  }

  /** Applies every entry whose time has come. A failing entry is logged and skipped. */
  runDue(): void {
    while (this.pending.length > 0 && (this.pending[0]?.atMs ?? Infinity) <= this.clock.now() - this.start) {
      const entry = this.pending.shift() as TimelineEntry;
      // Events due before this entry move first, so the incarnation history stays in time order.
      this.fleet.advance();
      try {
        applyTimelineEntry(this.fleet, entry);
        this.logger.info('timeline entry applied', { entry: entry.field, action: entry.action, atMs: entry.atMs });
      } catch (err) {
        this.logger.error('timeline entry failed', { entry: entry.field, error: err instanceof Error ? err.message : String(err) });
      }
    }
  }

  get remaining(): number {
    return this.pending.length;
  }
}
