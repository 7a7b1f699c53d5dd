// The simulated fleet: its VMs (metadata plus per-VM service state: rate limiter, tokens, request
// log), the maintenance events they see, and the injected faults. Every change the control API,
// the scenario timeline or a VM's own request makes goes through here.

import type { ProviderName, Tag } from '../api/observation.js';
import type { Clock } from '../time/clock.js';
import { isoSeconds, parseTime } from './durations.js';
import { advanceEvent, type FleetEvent, parseEvent, startEvent } from './events.js';
import { FaultSet } from './faults.js';
import type { ProviderModel } from './provider-model.js';
import { RateLimiter } from './rate-limit.js';
import { RequestLog } from './request-log.js';
import { TokenStore } from './alibaba/tokens.js';
import {
  expectKeys,
  expectObject,
  InputError,
  optionalBoolean,
  optionalInteger,
  parseTags,
  requiredString,
} from './validation.js';

export interface Settings {
  /** Per-VM requests per second before 429; 0 turns the limit off. */
  rateLimitPerSecond: number;
  /** Azure: how long the first scheduled-events call waits (the real one can take 2 minutes). */
  firstEventsCallDelayMs: number;
}

export interface VmApproval {
  eventId: string;
  time: string;
}

export interface Vm {
  readonly name: string;
  instance: Record<string, unknown>;
  network: Record<string, unknown>;
  tags: Tag[];
  tagsEnabled: boolean;
  hardenedOnly: boolean;
  spotTerminationTime: number | undefined;
  approvals: VmApproval[];
  readonly rateLimiter: RateLimiter;
  readonly tokens: TokenStore;
  readonly requestLog: RequestLog;
  /** Azure scheduled events: the last call, for "the first call enables the feature". */
  eventsLastCallAt: number | undefined;
}

export interface VmPatch {
  instance?: Record<string, unknown>;
  network?: Record<string, unknown>;
  tags?: Tag[];
  tagsEnabled?: boolean;
  hardenedOnly?: boolean;
  /** null clears the termination time. */
  spotTerminationTime?: number | null;
}

export class NotFoundError extends Error {}
export class ConflictError extends Error {}

const VM_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,252}$/;
const PATCH_FIELDS = ['instance', 'network', 'tags', 'tagsEnabled', 'hardenedOnly', 'spot'];
const SETTINGS_FIELDS = ['rateLimitPerSecond', 'firstEventsCallDelayMs'];

export function parseSettings(value: unknown, field: string): Partial<Settings> {
  const body = expectObject(value, field);
  expectKeys(body, SETTINGS_FIELDS, field);
  const out: Partial<Settings> = {};
  const rate = optionalInteger(body, 'rateLimitPerSecond', field, 0, 100_000);
  if (rate !== undefined) out.rateLimitPerSecond = rate;
  const delay = optionalInteger(body, 'firstEventsCallDelayMs', field, 0, 600_000);
  if (delay !== undefined) out.firstEventsCallDelayMs = delay;
  return out;
}

export class Fleet {
  readonly faults: FaultSet;
  readonly settings: Settings;
  private readonly vms = new Map<string, Vm>();
  private events: FleetEvent[] = [];
  private incarnationValue = 1;
  private nextIndex = 0;

  constructor(
    readonly model: ProviderModel,
    readonly clock: Pick<Clock, 'now'>,
    settings: Partial<Settings> = {},
  ) {
    this.faults = new FaultSet(clock);
    this.settings = { rateLimitPerSecond: model.defaultRateLimitPerSecond, firstEventsCallDelayMs: 0, ...settings };
  }

  get provider(): ProviderName {
    return this.model.provider;
  }

  /** Azure DocumentIncarnation: increases on every change of the event list. */
  get incarnation(): number {
    return this.incarnationValue;
  }

  // ---- VMs -------------------------------------------------------------------------------------

  vmNames(): string[] {
    return [...this.vms.keys()];
  }

  listVms(): Vm[] {
    return [...this.vms.values()];
  }

  getVm(name: string): Vm | undefined {
    return this.vms.get(name);
  }

  /** The VM the root paths serve (the real service's own addresses). */
  firstVm(): Vm | undefined {
    return this.vms.values().next().value;
  }

  /** Validates `{name, ...patch}` for a new VM; throws InputError or ConflictError. */
  parseNewVm(value: unknown, field: string): { name: string; patch: VmPatch } {
    const body = expectObject(value, field);
    expectKeys(body, ['name', ...PATCH_FIELDS], field);
    const name = requiredString(body, 'name', field);
    if (!VM_NAME.test(name)) throw new InputError(`${field ? field + '.' : ''}name`, 'must be letters, digits, ".", "_" or "-" (no "/")');
    if (this.vms.has(name)) throw new ConflictError(`VM "${name}" already exists`);
    const { name: _omit, ...rest } = body;
    const defaults = this.model.defaultVm(name, this.nextIndex);
    return { name, patch: this.parseVmPatch(rest, field, defaults.instance) };
  }

  addVm(name: string, patch: VmPatch = {}): Vm {
    if (this.vms.has(name)) throw new ConflictError(`VM "${name}" already exists`);
    const data = this.model.defaultVm(name, this.nextIndex++);
    const vm: Vm = {
      name,
      instance: data.instance,
      network: data.network,
      tags: data.tags,
      tagsEnabled: data.tagsEnabled,
      hardenedOnly: false,
      spotTerminationTime: undefined,
      approvals: [],
      rateLimiter: new RateLimiter(this.clock, () => this.settings.rateLimitPerSecond),
      tokens: new TokenStore(this.clock),
      requestLog: new RequestLog(),
      eventsLastCallAt: undefined,
    };
    this.applyVmPatch(vm, patch);
    this.vms.set(name, vm);
    return vm;
  }

  addDefaultVms(count: number): Vm[] {
    const added: Vm[] = [];
    for (let i = 0; added.length < count; i++) {
      const name = this.model.defaultVmName(i);
      if (!this.vms.has(name)) added.push(this.addVm(name));
    }
    return added;
  }

  removeVm(name: string): boolean {
    if (!this.vms.delete(name)) return false;
    this.faults.removeForVm(name);
    return true;
  }

  /** Validates a PATCH body against the VM's current instance fields; throws InputError. */
  parseVmPatch(value: unknown, field: string, currentInstance: Record<string, unknown>): VmPatch {
    const body = expectObject(value, field);
    expectKeys(body, PATCH_FIELDS, field);
    const at = (key: string) => (field ? `${field}.${key}` : key);
    const patch: VmPatch = {};
    if (body.instance !== undefined) patch.instance = this.model.checkInstancePatch(body.instance, at('instance'), currentInstance);
    if (body.network !== undefined) patch.network = this.model.checkNetwork(body.network, at('network'));
    if (body.tags !== undefined) {
      patch.tags = parseTags(body.tags, at('tags'));
      this.model.checkTags(patch.tags, at('tags'));
    }
    const tagsEnabled = optionalBoolean(body, 'tagsEnabled', field);
    if (tagsEnabled !== undefined) patch.tagsEnabled = tagsEnabled;
    const hardenedOnly = optionalBoolean(body, 'hardenedOnly', field);
    if (hardenedOnly !== undefined) patch.hardenedOnly = hardenedOnly;
    if (body.spot !== undefined) {
      const spot = expectObject(body.spot, at('spot'));
      expectKeys(spot, ['terminationTime'], at('spot'));
      const time = spot.terminationTime;
      if (time === null) patch.spotTerminationTime = null;
      else if (typeof time === 'string' && parseTime(time, this.clock.now()) !== undefined) {
        patch.spotTerminationTime = parseTime(time, this.clock.now()) ?? null;
      } else {
        throw new InputError(at('spot.terminationTime'), 'must be an ISO 8601 time, +<duration> (e.g. +5m) or null');
      }
    }
    return patch;
  }

  applyVmPatch(vm: Vm, patch: VmPatch): void {
    if (patch.instance) vm.instance = this.model.mergeInstance(vm.instance, patch.instance);
    if (patch.network) vm.network = patch.network;
    if (patch.tags) vm.tags = patch.tags;
    if (patch.tagsEnabled !== undefined) vm.tagsEnabled = patch.tagsEnabled;
    if (patch.hardenedOnly !== undefined) vm.hardenedOnly = patch.hardenedOnly;
    if (patch.spotTerminationTime !== undefined) vm.spotTerminationTime = patch.spotTerminationTime ?? undefined;
  }

  vmState(vm: Vm): Record<string, unknown> {
    return {
      name: vm.name,
      prefix: `/vm/${vm.name}`,
      instance: structuredClone(vm.instance),
      ...(this.provider === 'azure' ? { network: structuredClone(vm.network) } : {}),
      tags: vm.tags.map((t) => ({ ...t })),
      tagsEnabled: vm.tagsEnabled,
      hardenedOnly: vm.hardenedOnly,
      spot: { terminationTime: vm.spotTerminationTime === undefined ? null : isoSeconds(vm.spotTerminationTime) },
      approvals: vm.approvals.map((a) => ({ ...a })),
      faults: this.faults.list(vm.name),
    };
  }

  // ---- settings --------------------------------------------------------------------------------

  applySettings(patch: Partial<Settings>): void {
    Object.assign(this.settings, patch);
  }

  // ---- events ----------------------------------------------------------------------------------

  listEvents(): FleetEvent[] {
    this.advance();
    return this.events;
  }

  getEvent(id: string): FleetEvent | undefined {
    this.advance();
    return this.events.find((e) => e.id === id);
  }

  /** Validates an event body; throws InputError or ConflictError. */
  parseEvent(value: unknown, field: string): FleetEvent {
    const event = parseEvent(value, field, this.model.events, this.clock.now(), this.vmNames());
    if (this.events.some((e) => e.id === event.id)) throw new ConflictError(`event "${event.id}" already exists`);
    return event;
  }

  addEvent(event: FleetEvent): FleetEvent {
    if (this.events.some((e) => e.id === event.id)) throw new ConflictError(`event "${event.id}" already exists`);
    this.events.push(event);
    this.incarnationValue++;
    return event;
  }

  /** The platform starts the event now (control API). */
  startEventNow(id: string): FleetEvent | undefined {
    const event = this.getEvent(id);
    if (!event) return undefined;
    if (event.status !== 'Started') {
      startEvent(event, this.clock.now());
      this.incarnationValue++;
    }
    return event;
  }

  removeEvent(id: string): boolean {
    const before = this.events.length;
    this.events = this.events.filter((e) => e.id !== id);
    if (this.events.length === before) return false;
    this.incarnationValue++;
    return true;
  }

  /**
   * A VM approved events (Azure StartRequests). Approval releases the event for every VM in its
   * Resources (IMDS.md): with lifecycle `auto` it starts now; `manual` only records the approval.
   */
  approve(vm: Vm, ids: string[]): void {
    const time = new Date(this.clock.now()).toISOString();
    for (const id of ids) {
      const event = this.events.find((e) => e.id === id);
      if (!event) continue;
      event.approvals.push({ vm: vm.name, time });
      vm.approvals.push({ eventId: id, time });
      if (event.lifecycle === 'auto' && event.status === 'Scheduled') {
        startEvent(event, this.clock.now());
        this.incarnationValue++;
      }
    }
  }

  /** Azure: a placement group sees every event; Alibaba: only the VMs an event names. */
  eventsForVm(vm: Vm): FleetEvent[] {
    this.advance();
    if (this.provider === 'azure') return this.events;
    const names = new Set([vm.name, ...this.model.nativeNames(vm.name, vm.instance)]);
    return this.events.filter((e) => e.resources.some((r) => names.has(r)));
  }

  /** Resources as the service shows them: each fleet VM named by its provider-native name. */
  nativeResources(event: FleetEvent): string[] {
    return event.resources.map((r) => {
      const vm = this.vms.get(r);
      return vm ? (this.model.nativeNames(vm.name, vm.instance)[0] ?? r) : r;
    });
  }

  /** Applies what time has done to the events (auto lifecycles). */
  advance(): void {
    const now = this.clock.now();
    const ended = new Set<string>();
    for (const event of this.events) {
      const step = advanceEvent(event, now);
      if (step.started) this.incarnationValue++;
      if (step.ended) ended.add(event.id);
    }
    if (ended.size > 0) {
      this.events = this.events.filter((e) => !ended.has(e.id));
      this.incarnationValue++;
    }
  }
}
