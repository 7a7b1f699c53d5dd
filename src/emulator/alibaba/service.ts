// The Alibaba Cloud ECS metadata service of one instance (seeds 002/003):
// - items under /latest/meta-data/, plain text, directories listed one entry a line, and the
//   whole tree as one JSON document at /latest/meta-data/all (outside the seeds: what cloud-init's
//   AliYun datasource reads first);
// - hardened mode: PUT /latest/api/token with X-aliyun-ecs-metadata-token-ttl-seconds (1-21600),
//   never with X-Forwarded-For, then X-aliyun-ecs-metadata-token on every GET;
// - normal mode (plain GET) unless the owner made hardened mode the only one (HttpTokens=required).
// Status codes outside the seeds (IMDS.md): TTL out of range 400, X-Forwarded-For 403, invalid or
// expired token 401, no token while hardened-only 403.

import { isoSeconds } from '../durations.js';
import type { Fleet, Vm } from '../fleet.js';
import { header, jsonAnswer, type MetadataService, type ServiceRequest, type ServiceResponse, textAnswer } from '../service.js';
import { fakeUserData } from './defaults.js';
import { ALL_ITEMS, currentItems, itemTree, lookupItem } from './items.js';
import { TOKEN_TTL_MAX_S, TOKEN_TTL_MIN_S } from './tokens.js';

export const TOKEN_PATH = '/latest/api/token';
export const TOKEN_HEADER = 'x-aliyun-ecs-metadata-token';
export const TTL_HEADER = 'x-aliyun-ecs-metadata-token-ttl-seconds';

const REASONS: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
};

function error(status: number, detail?: string): ServiceResponse {
  const reason = REASONS[status] ?? `Error ${status}`;
  return textAnswer(status, detail ? `${reason}: ${detail}` : reason);
}

function listing(entries: string[]): ServiceResponse {
  return textAnswer(200, entries.join('\n'));
}

function issueToken(request: ServiceRequest): ServiceResponse {
  // Seed 002: 認証情報は、X-Forwarded-For ヘッダーを含むリクエストに対しては発行されません.
  if (header(request.headers, 'x-forwarded-for') !== undefined) return error(403, 'tokens are not issued to requests with X-Forwarded-For');
  const ttlText = header(request.headers, TTL_HEADER);
  const ttl = ttlText !== undefined && /^\s*\d+\s*$/.test(ttlText) ? Number(ttlText) : NaN;
  if (!(ttl >= TOKEN_TTL_MIN_S && ttl <= TOKEN_TTL_MAX_S)) {
    return error(400, `${TTL_HEADER} must be an integer from ${TOKEN_TTL_MIN_S} to ${TOKEN_TTL_MAX_S}`);
  }
  return textAnswer(200, request.vm.tokens.issue(ttl));
}

/** Normal mode, or hardened mode with a valid token of this instance. */
function authorize(request: ServiceRequest): ServiceResponse | undefined {
  const token = header(request.headers, TOKEN_HEADER);
  if (token === undefined) return request.vm.hardenedOnly ? error(403, 'this instance accepts hardened-mode (token) requests only') : undefined;
  const check = request.vm.tokens.check(token);
  if (check === 'valid') return undefined;
  return error(401, check === 'expired' ? 'the metadata token has expired' : 'the metadata token is invalid');
}

function activeSystemEvents(fleet: Fleet, vm: Vm): ServiceResponse {
  // Format outside the seeds and undocumented; clients keep the raw text (IMDS.md).
  const events = fleet.eventsForVm(vm).map((e) => ({
    Code: e.type,
    Id: e.id,
    NotBefore: isoSeconds(e.notBefore ?? e.startedAt ?? fleet.clock.now()),
    Status: e.status === 'Started' ? 'Executing' : 'Scheduled',
  }));
  return jsonAnswer(200, events);
}

function identityDocument(vm: Vm): ServiceResponse {
  const item = (path: string) => (typeof vm.instance[path] === 'string' ? (vm.instance[path] as string) : '');
  return jsonAnswer(200, {
    'account-id': item('owner-account-id'),
    mac: item('mac'),
    'region-id': item('region-id'),
    'serial-number': item('serial-number'),
    'zone-id': item('zone-id'),
    'instance-type': item('instance/instance-type'),
    'image-id': item('image-id'),
    'private-ipv4': item('private-ipv4'),
    'instance-id': item('instance-id'),
    'owner-account-id': item('owner-account-id'),
  });
}

/**
 * A leaf is served only at its own path: followed by "/" it is not an item (404, as the real
 * service answers), so a client that takes a multi-line value for a listing (Ohai does, for
 * user-data starting with "#!/bin/bash") does not recurse into it. Directories answer with or
 * without the "/".
 */
function serve(request: ServiceRequest, segments: string[], trailingSlash: boolean): ServiceResponse {
  const { vm, fleet } = request;
  const leaf = (answer: () => ServiceResponse): ServiceResponse => (trailingSlash ? error(404) : answer());
  const [version, section, ...rest] = segments;
  if (version === undefined) return listing(['2016-01-01', 'latest']);
  if (version !== 'latest' && version !== '2016-01-01') return error(404);
  if (section === undefined) return listing(['dynamic/', 'maintenance/', 'meta-data/', 'user-data']);
  const restPath = rest.join('/');
  switch (section) {
    case 'meta-data': {
      const items = currentItems(vm);
      // The whole tree as one JSON document; not listed in meta-data/, as on the real service.
      if (restPath === ALL_ITEMS) return leaf(() => jsonAnswer(200, itemTree(items)));
      const found = lookupItem(items, restPath);
      if (!found) return error(404);
      return found.kind === 'value' ? leaf(() => textAnswer(200, found.text)) : listing(found.entries);
    }
    case 'user-data':
      return rest.length === 0 ? leaf(() => textAnswer(200, fakeUserData(vm.name))) : error(404);
    case 'dynamic':
      if (restPath === '') return listing(['instance-identity/']);
      if (restPath === 'instance-identity') return listing(['document']);
      if (restPath === 'instance-identity/document') return leaf(() => identityDocument(vm));
      return error(404);
    case 'maintenance':
      if (restPath === '') return listing(['active-system-events']);
      if (restPath === 'active-system-events') return leaf(() => activeSystemEvents(fleet, vm));
      return error(404);
    default:
      return error(404);
  }
}

export function createAlibabaService(): MetadataService {
  return {
    statusAnswer: (status) => error(status),
    rateLimited: () => error(429, 'metadata requests are throttled'),
    async handle(request) {
      let segments: string[];
      try {
        segments = request.path.split('/').filter((s) => s !== '').map((s) => decodeURIComponent(s));
      } catch {
        return error(400, 'malformed path');
      }
      const trailingSlash = request.path.endsWith('/') && segments.length > 0;
      if (segments.join('/') === TOKEN_PATH.slice(1) && !trailingSlash) {
        if (request.method !== 'PUT') return { ...error(405), headers: { Allow: 'PUT' } };
        return issueToken(request);
      }
      if (request.method !== 'GET') return { ...error(405), headers: { Allow: 'GET' } };
      const refused = authorize(request);
      if (refused) return refused;
      return serve(request, segments, trailingSlash);
    },
  };
}
