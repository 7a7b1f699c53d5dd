// The control API under /_emulator/ (docs/emulator.md): change VMs, schedule and start events,
// inject faults, read request logs. A bad body is refused whole with 400 and changes nothing:
// every input is validated before anything is applied.

import type { Logger } from '../observability/logger.js';
import { renderEvent } from './azure/scheduled-events.js';
import { isoSeconds } from './durations.js';
import type { FleetEvent } from './events.js';
import { parseFaultSpec } from './faults.js';
import { ConflictError, type Fleet, NotFoundError, parseSettings } from './fleet.js';
import { InputError } from './validation.js';

export interface ControlRequest {
  method: string;
  /** Path segments after /_emulator/, decoded. */
  segments: string[];
  body: string;
}

export interface ControlResponse {
  status: number;
  value: unknown;
}

class MethodNotAllowed extends Error {}

/** An event as the control API shows it: provider-native fields plus how it is being handled. */
export function eventView(fleet: Fleet, event: FleetEvent): Record<string, unknown> {
  const native =
    fleet.provider === 'azure'
      ? renderEvent(fleet, event)
      : {
          Code: event.type,
          Id: event.id,
          NotBefore: isoSeconds(event.notBefore ?? event.startedAt ?? fleet.clock.now()),
          Status: event.status === 'Started' ? 'Executing' : 'Scheduled',
          Resources: [...event.resources],
        };
  return { ...native, lifecycle: event.lifecycle, approved: event.approvals.length > 0, approvals: event.approvals.map((a) => ({ ...a })) };
}

function parseBody(body: string): unknown {
  if (body.trim() === '') return {};
  try {
    return JSON.parse(body);
  } catch {
    throw new InputError('', 'the request body is not valid JSON');
  }
}

export function handleControl(fleet: Fleet, request: ControlRequest, logger: Logger): ControlResponse {
  try {
    return route(fleet, request, logger);
  } catch (err) {
    if (err instanceof InputError) return { status: 400, value: { error: err.message } };
    if (err instanceof NotFoundError) return { status: 404, value: { error: err.message } };
    if (err instanceof ConflictError) return { status: 409, value: { error: err.message } };
    if (err instanceof MethodNotAllowed) return { status: 405, value: { error: err.message } };
    throw err;
  }
}

function route(fleet: Fleet, request: ControlRequest, logger: Logger): ControlResponse {
  const { method, segments } = request;
  const [resource, id, action, ...extra] = segments;
  const only = (...methods: string[]) => {
    if (!methods.includes(method)) throw new MethodNotAllowed(`${method} is not allowed here (allowed: ${methods.join(', ')})`);
  };
  const vmNamed = (name: string) => {
    const vm = fleet.getVm(name);
    if (!vm) throw new NotFoundError(`no VM named "${name}"`);
    return vm;
  };
  const eventNamed = (eventId: string) => {
    const event = fleet.getEvent(eventId);
    if (!event) throw new NotFoundError(`no event with id "${eventId}"`);
    return event;
  };
  if (extra.length > 0) throw new NotFoundError('no such control endpoint');

  switch (resource) {
    case 'healthz':
      only('GET');
      return { status: 200, value: { provider: fleet.provider } };

    case 'settings':
      if (id !== undefined) break;
      only('GET', 'PATCH');
      if (method === 'PATCH') {
        fleet.applySettings(parseSettings(parseBody(request.body), ''));
        logger.info('settings changed', { settings: fleet.settings });
      }
      return { status: 200, value: { ...fleet.settings } };

    case 'vms': {
      if (id === undefined) {
        only('GET', 'POST');
        if (method === 'GET') return { status: 200, value: fleet.vmNames().map((name) => ({ name, prefix: `/vm/${name}` })) };
        const { name, patch } = fleet.parseNewVm(parseBody(request.body), '');
        const vm = fleet.addVm(name, patch);
        logger.info('VM added', { vm: name });
        return { status: 201, value: fleet.vmState(vm) };
      }
      const vm = vmNamed(id);
      if (action === 'requests') {
        only('GET', 'DELETE');
        if (method === 'GET') return { status: 200, value: vm.requestLog.list() };
        vm.requestLog.clear();
        return { status: 200, value: { cleared: true } };
      }
      if (action !== undefined) break;
      only('GET', 'PATCH', 'DELETE');
      if (method === 'GET') return { status: 200, value: fleet.vmState(vm) };
      if (method === 'DELETE') {
        fleet.removeVm(vm.name);
        logger.info('VM removed', { vm: vm.name });
        return { status: 200, value: { removed: vm.name } };
      }
      const patch = fleet.parseVmPatch(parseBody(request.body), '', vm.instance);
      fleet.applyVmPatch(vm, patch);
      logger.info('VM changed', { vm: vm.name, fields: Object.keys(patch) });
      return { status: 200, value: fleet.vmState(vm) };
    }

    case 'events': {
      if (id === undefined) {
        only('GET', 'POST');
        if (method === 'GET') return { status: 200, value: fleet.listEvents().map((e) => eventView(fleet, e)) };
        const event = fleet.addEvent(fleet.parseEvent(parseBody(request.body), ''));
        logger.info('event added', { event: event.id, type: event.type, resources: event.resources });
        return { status: 201, value: eventView(fleet, event) };
      }
      if (action === 'start') {
        only('POST');
        eventNamed(id);
        const event = fleet.startEventNow(id);
        logger.info('event started', { event: id });
        return { status: 200, value: event ? eventView(fleet, event) : null };
      }
      if (action !== undefined) break;
      only('GET', 'DELETE');
      const event = eventNamed(id);
      if (method === 'GET') return { status: 200, value: eventView(fleet, event) };
      fleet.removeEvent(id);
      logger.info('event removed', { event: id });
      return { status: 200, value: { removed: id } };
    }

    case 'faults': {
      if (action !== undefined) break;
      if (id !== undefined) {
        only('DELETE');
        if (!fleet.faults.remove(id)) throw new NotFoundError(`no fault with id "${id}"`);
        return { status: 200, value: { removed: id } };
      }
      only('GET', 'POST', 'DELETE');
      if (method === 'GET') return { status: 200, value: fleet.faults.list() };
      if (method === 'DELETE') {
        fleet.faults.clear();
        logger.info('faults cleared');
        return { status: 200, value: { cleared: true } };
      }
      const spec = parseFaultSpec(parseBody(request.body), '');
      if (spec.vm !== undefined) vmNamed(spec.vm);
      const fault = fleet.faults.add(spec);
      logger.info('fault injected', { fault });
      return { status: 201, value: fault };
    }
  }
  throw new NotFoundError('no such control endpoint');
}
