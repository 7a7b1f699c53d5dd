// The contract between the HTTP server and a provider's metadata service: one request for one VM
// in, one answer out. Services build answers rather than write them, so the server can log them,
// count them and, when a fault asks for it, cut them short.

import type { IncomingHttpHeaders } from 'node:http';
import type { Fleet, Vm } from './fleet.js';

export interface ServiceRequest {
  method: string;
  /** The service's own path, without the `/vm/<name>` prefix; still percent-encoded. */
  path: string;
  query: URLSearchParams;
  rawQuery: string;
  headers: IncomingHttpHeaders;
  body: string;
  vm: Vm;
  fleet: Fleet;
}

export interface ServiceResponse {
  status: number;
  contentType: string;
  body: string;
  headers?: Record<string, string>;
}

export interface MetadataService {
  handle(request: ServiceRequest): Promise<ServiceResponse>;
  /** The answer to an injected status fault, in the service's own error style. */
  statusAnswer(status: number): ServiceResponse;
  /** The answer past the rate limit. */
  rateLimited(): ServiceResponse;
}

export const JSON_TYPE = 'application/json; charset=utf-8';
export const TEXT_TYPE = 'text/plain; charset=utf-8';

export function jsonAnswer(status: number, value: unknown, headers?: Record<string, string>): ServiceResponse {
  return { status, contentType: JSON_TYPE, body: JSON.stringify(value), ...(headers ? { headers } : {}) };
}

export function textAnswer(status: number, body: string, headers?: Record<string, string>): ServiceResponse {
  return { status, contentType: TEXT_TYPE, body, ...(headers ? { headers } : {}) };
}

export function header(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name.toLowerCase()];
  return Array.isArray(value) ? value.join(', ') : value;
}
