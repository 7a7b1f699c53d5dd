// Fault injection: make the metadata service fail the way the real one can (429, 410 "retry for up
// to 70 s", 500, slowness, dropped connections, a cut-off body), for the next N matching requests,
// for a time window, or until cleared.

import type { Clock } from '../time/clock.js';
import { expectKeys, expectObject, InputError, optionalInteger, optionalString } from './validation.js';

export const FAULT_KINDS = ['status', 'delay', 'reset', 'malformed'] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

export interface FaultSpec {
  kind: FaultKind;
  /** kind `status`: the status to answer with. */
  status?: number;
  /** kind `delay`: how long to wait before answering normally. */
  delayMs?: number;
  /** Only this VM (default: every VM). */
  vm?: string;
  /** Only request paths containing this text (default: every path). */
  path?: string;
  /** The next N matching requests. */
  count?: number;
  /** A window of this length from the time the fault is added. */
  durationMs?: number;
}

export interface Fault extends FaultSpec {
  id: string;
  /** Matching requests still to fail (count faults). */
  remaining?: number;
  /** Epoch ms after which the fault no longer applies (window faults). */
  until?: number;
}

const FIELDS = ['kind', 'status', 'delayMs', 'vm', 'path', 'count', 'durationMs'];

/** Validates a control-API or scenario fault body; `vmExists` lets it reject unknown VMs. */
export function parseFaultSpec(value: unknown, field: string): FaultSpec {
  const body = expectObject(value, field);
  expectKeys(body, FIELDS, field);
  const kind = body.kind;
  if (typeof kind !== 'string' || !(FAULT_KINDS as readonly string[]).includes(kind)) {
    throw new InputError(`${field ? field + '.' : ''}kind`, `must be one of ${FAULT_KINDS.join(', ')}`);
  }
  const spec: FaultSpec = { kind: kind as FaultKind };
  const status = optionalInteger(body, 'status', field, 400, 599);
  const delayMs = optionalInteger(body, 'delayMs', field, 0, 600_000);
  if (kind === 'status') {
    if (status === undefined) throw new InputError(`${field ? field + '.' : ''}status`, 'is required for kind "status" (400-599)');
    spec.status = status;
  } else if (status !== undefined) {
    throw new InputError(`${field ? field + '.' : ''}status`, 'applies only to kind "status"');
  }
  if (kind === 'delay') {
    if (delayMs === undefined) throw new InputError(`${field ? field + '.' : ''}delayMs`, 'is required for kind "delay"');
    spec.delayMs = delayMs;
  } else if (delayMs !== undefined) {
    throw new InputError(`${field ? field + '.' : ''}delayMs`, 'applies only to kind "delay"');
  }
  const vm = optionalString(body, 'vm', field);
  if (vm !== undefined) spec.vm = vm;
  const path = optionalString(body, 'path', field);
  if (path !== undefined) spec.path = path;
  const count = optionalInteger(body, 'count', field, 1);
  if (count !== undefined) spec.count = count;
  const durationMs = optionalInteger(body, 'durationMs', field, 1);
  if (durationMs !== undefined) spec.durationMs = durationMs;
  return spec;
}

export class FaultSet {
  private faults: Fault[] = [];
  private nextId = 1;

  constructor(private readonly clock: Pick<Clock, 'now'>) {}

  add(spec: FaultSpec): Fault {
    const fault: Fault = { ...spec, id: `f-${this.nextId++}` };
    if (spec.count !== undefined) fault.remaining = spec.count;
    if (spec.durationMs !== undefined) fault.until = this.clock.now() + spec.durationMs;
    this.faults.push(fault);
    return fault;
  }

  remove(id: string): boolean {
    const before = this.faults.length;
    this.faults = this.faults.filter((f) => f.id !== id);
    return this.faults.length !== before;
  }

  /** Drops the faults of a VM that no longer exists. */
  removeForVm(vm: string): void {
    this.faults = this.faults.filter((f) => f.vm !== vm);
  }

  clear(): void {
    this.faults = [];
  }

  /** The active faults, optionally only those that can hit `vm`. */
  list(vm?: string): Fault[] {
    this.expire();
    return this.faults.filter((f) => vm === undefined || f.vm === undefined || f.vm === vm).map((f) => ({ ...f }));
  }

  /** The first fault that applies to this request, consuming one of its count. */
  take(vm: string, path: string): Fault | undefined {
    this.expire();
    const fault = this.faults.find(
      (f) => (f.vm === undefined || f.vm === vm) && (f.path === undefined || path.includes(f.path)),
    );
    if (!fault) return undefined;
    if (fault.remaining !== undefined) {
      fault.remaining -= 1;
      if (fault.remaining <= 0) this.remove(fault.id);
    }
    return { ...fault };
  }

  private expire(): void {
    const now = this.clock.now();
    this.faults = this.faults.filter((f) => f.until === undefined || now < f.until);
  }
}
