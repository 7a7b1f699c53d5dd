// The HTTP side: one port for the whole fleet. `/vm/<name>/...` reaches that VM's metadata
// service, the root paths reach the first VM (as the real link-local address does), and
// `/_emulator/...` is the control API. Every service request goes: faults → rate limit → service,
// and ends in the VM's request log.

import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Logger } from '../observability/logger.js';
import { sleep, systemClock } from '../time/clock.js';
import { handleControl } from './control.js';
import type { Fleet, Vm } from './fleet.js';
import { JSON_TYPE, type MetadataService, type ServiceResponse } from './service.js';

const CONTROL_PREFIX = '/_emulator';
const VM_PREFIX = '/vm/';
const MAX_BODY_BYTES = 1024 * 1024;

export interface ServerContext {
  fleet: Fleet;
  service: MetadataService;
  logger: Logger;
  /** Brings the fleet up to the clock (timeline entries, event lifecycles) before each request. */
  tick(): void;
}

class BodyTooLarge extends Error {}

function readBody(request: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    request.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        reject(new BodyTooLarge());
        request.destroy();
        return;
      }
      chunks.push(chunk);
    });
    request.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    request.on('error', reject);
  });
}

function send(response: ServerResponse, answer: ServiceResponse): void {
  const body = Buffer.from(answer.body, 'utf8');
  response.writeHead(answer.status, {
    'Content-Type': answer.contentType,
    'Content-Length': String(body.length),
    ...answer.headers,
  });
  response.end(body);
}

function sendJson(response: ServerResponse, status: number, value: unknown): void {
  send(response, { status, contentType: JSON_TYPE, body: `${JSON.stringify(value)}\n` });
}

/** A body cut in half: what a client sees when a connection dies mid-answer. */
function truncated(answer: ServiceResponse): ServiceResponse {
  const body = answer.body.length >= 2 ? answer.body.slice(0, Math.floor(answer.body.length / 2)) : '{"';
  return { status: 200, contentType: answer.contentType, body };
}

/**
 * The request target as the client sent it, split at the first "?". Not through `new URL`: a "#"
 * is no fragment here (clients never send one), so `/latest/meta-data/instance-id#x` must reach
 * the service whole and be refused as the non-item it is; nor may `//x` turn into a host, or
 * `a/../b` into `b`. An absolute-form target (`http://host/path`, RFC 9112 §3.2.2) loses its
 * scheme and authority.
 */
function splitRequestTarget(target: string): { path: string; query: string } {
  const origin = /^[A-Za-z][A-Za-z0-9+.-]*:\/\/[^/?]*/.exec(target);
  const rest = origin ? target.slice(origin[0].length) : target;
  const question = rest.indexOf('?');
  const path = question === -1 ? rest : rest.slice(0, question);
  return { path: path.startsWith('/') ? path : `/${path}`, query: question === -1 ? '' : rest.slice(question + 1) };
}

/** `/vm/<name>/rest` → [name, "/rest"]; root paths → [undefined, path]. */
function splitVmPrefix(pathname: string): [string | undefined, string] {
  if (!pathname.startsWith(VM_PREFIX)) return [undefined, pathname];
  const rest = pathname.slice(VM_PREFIX.length);
  const slash = rest.indexOf('/');
  const encoded = slash === -1 ? rest : rest.slice(0, slash);
  let name: string;
  try {
    name = decodeURIComponent(encoded);
  } catch {
    name = encoded;
  }
  return [name, slash === -1 ? '/' : rest.slice(slash)];
}

async function serveMetadata(ctx: ServerContext, vm: Vm, path: string, rawQuery: string, request: IncomingMessage, response: ServerResponse): Promise<void> {
  const { fleet, service, logger } = ctx;
  const body = await readBody(request);
  const started = fleet.clock.now();
  const log = (status: number) => {
    vm.requestLog.record({
      time: new Date(started).toISOString(),
      method: request.method ?? 'GET',
      path,
      query: rawQuery,
      headers: request.headers,
      status,
    });
    logger.debug('metadata request', { vm: vm.name, method: request.method, path, status });
  };

  const fault = fleet.faults.take(vm.name, path);
  if (fault?.kind === 'reset') {
    log(0);
    request.socket.destroy();
    return;
  }
  if (fault?.kind === 'delay') await sleep(systemClock, fault.delayMs ?? 0);

  let answer: ServiceResponse;
  if (fault?.kind === 'status') {
    answer = service.statusAnswer(fault.status ?? 500);
  } else if (!vm.rateLimiter.tryAcquire()) {
    answer = service.rateLimited();
  } else {
    answer = await service.handle({
      method: request.method ?? 'GET',
      path,
      query: new URLSearchParams(rawQuery),
      rawQuery,
      headers: request.headers,
      body,
      vm,
      fleet,
    });
  }
  if (fault?.kind === 'malformed') answer = truncated(answer);
  log(answer.status);
  send(response, answer);
}

async function serveControl(ctx: ServerContext, pathname: string, request: IncomingMessage, response: ServerResponse): Promise<void> {
  const body = await readBody(request);
  let segments: string[];
  try {
    segments = pathname
      .slice(CONTROL_PREFIX.length)
      .split('/')
      .filter((s) => s !== '')
      .map((s) => decodeURIComponent(s));
  } catch {
    sendJson(response, 400, { error: 'malformed percent-encoding in the path' });
    return;
  }
  const answer = handleControl(ctx.fleet, { method: request.method ?? 'GET', segments, body }, ctx.logger);
  sendJson(response, answer.status, answer.value);
}

export function createEmulatorServer(ctx: ServerContext): Server {
  return createServer((request, response) => {
    const { path: pathname, query } = splitRequestTarget(request.url ?? '/');
    const handle = async () => {
      ctx.tick();
      if (pathname === CONTROL_PREFIX || pathname.startsWith(`${CONTROL_PREFIX}/`)) {
        await serveControl(ctx, pathname, request, response);
        return;
      }
      const [name, path] = splitVmPrefix(pathname);
      const vm = name === undefined ? ctx.fleet.firstVm() : ctx.fleet.getVm(name);
      if (!vm) {
        sendJson(response, 404, { error: name === undefined ? 'the fleet has no VM' : `no VM named "${name}"` });
        return;
      }
      await serveMetadata(ctx, vm, path, query, request, response);
    };
    handle().catch((err: unknown) => {
      if (err instanceof BodyTooLarge) {
        if (!response.headersSent) sendJson(response, 413, { error: 'request body too large' });
        return;
      }
      ctx.logger.error('request failed', { path: pathname, error: err instanceof Error ? err.message : String(err) });
      if (!response.headersSent) sendJson(response, 500, { error: 'emulator error' });
      else response.destroy();
    });
  });
}
