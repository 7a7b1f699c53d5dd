// The HTTP side: one port for the whole fleet. `/vm/<name>/...` reaches that VM's metadata
// service, the root paths reach the first VM (as the real link-local address does), and
// `/_emulator/...` is the control API. Every service request goes: faults → rate limit → service,
// and ends in the VM's request log.

import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Logger } from '../observability/logger.js';
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

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** A body cut in half: what a client sees when a connection dies mid-answer. */
function truncated(answer: ServiceResponse): ServiceResponse {
  const body = answer.body.length >= 2 ? answer.body.slice(0, Math.floor(answer.body.length / 2)) : '{"';
  return { status: 200, contentType: answer.contentType, body };
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

async function serveMetadata(ctx: ServerContext, vm: Vm, path: string, url: URL, request: IncomingMessage, response: ServerResponse): Promise<void> {
  const { fleet, service, logger } = ctx;
  const body = await readBody(request);
  const started = fleet.clock.now();
  const log = (status: number) => {
    vm.requestLog.record({
      time: new Date(started).toISOString(),
      method: request.method ?? 'GET',
      path,
      query: url.search.replace(/^\?/, ''),
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
  if (fault?.kind === 'delay') await sleep(fault.delayMs ?? 0);

  let answer: ServiceResponse;
  if (fault?.kind === 'status') {
    answer = service.statusAnswer(fault.status ?? 500);
  } else if (!vm.rateLimiter.tryAcquire()) {
    answer = service.rateLimited();
  } else {
    answer = await service.handle({
      method: request.method ?? 'GET',
      path,
      query: url.searchParams,
      rawQuery: url.search.replace(/^\?/, ''),
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
    const url = new URL(request.url ?? '/', 'http://emulator.invalid');
    const pathname = url.pathname;
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
      await serveMetadata(ctx, vm, path, url, request, response);
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
