// The Azure Instance Metadata Service of one VM, as seeds 000/001 describe it:
// - every request needs `Metadata: true` and must not carry X-Forwarded-For ("Sécurité et
//   authentification"), else 400;
// - query parameter names must not repeat ("Les demandes comportant des noms de paramètres de
//   requête en double sont rejetées");
// - api-version is required except on /metadata/versions; missing or unknown → 400 with the newest
//   versions ("Contrôle de version");
// - only GET, except POST on scheduled events (IMDS.md) → else 405;
// - route filtering and format=text; JSON on a leaf → 400 ("En cas de filtrage sur un nœud
//   terminal, format=json ne fonctionne pas").

import type { Fleet, Vm } from '../fleet.js';
import { header, jsonAnswer, type MetadataService, type ServiceRequest, type ServiceResponse, textAnswer } from '../service.js';
import { instanceDocument, isLeaf, renderText, walkRoute } from './instance.js';
import { parseStartRequests, scheduledEventsDocument } from './scheduled-events.js';
import { API_VERSIONS, CATEGORY_SINCE, isInstanceVersion, isScheduledEventsVersion, NEWEST_VERSIONS, atLeast } from './versions.js';
import { sleep, systemClock } from '../../time/clock.js';

const MORE = 'For more information refer to aka.ms/azureimds';
const FEATURE_IDLE_OFF_MS = 24 * 3_600_000;

const STATUS_REASONS: Record<number, string> = {
  400: 'Bad request',
  404: 'Not found',
  405: 'Method not allowed',
  410: 'Resource gone. Retry the request within 70 seconds.',
  429: 'Too many requests',
  500: 'Internal server error. Retry the request later.',
  503: 'Service unavailable. Retry the request later.',
};

function error(status: number, message: string, extra: Record<string, unknown> = {}): ServiceResponse {
  return jsonAnswer(status, { error: message, ...extra });
}

function badVersion(missing: boolean): ServiceResponse {
  const message = missing
    ? `Bad request. api-version was not specified in the request. ${MORE}`
    : `Bad request. api-version is invalid or was not specified in the request. ${MORE}`;
  return error(400, message, { 'newest-versions': NEWEST_VERSIONS });
}

function repeatedParameter(rawQuery: string): string | undefined {
  const seen = new Set<string>();
  for (const part of rawQuery.split('&')) {
    if (part === '') continue;
    const raw = part.split('=')[0] ?? '';
    let name: string;
    try {
      name = decodeURIComponent(raw.replace(/\+/g, ' ')).toLowerCase();
    } catch {
      name = raw.toLowerCase();
    }
    if (seen.has(name)) return name;
    seen.add(name);
  }
  return undefined;
}

type Category = 'versions' | 'instance' | 'scheduledevents';

function categoryOf(path: string): { category: Category; route: string[] } | undefined {
  let segments: string[];
  try {
    segments = path.split('/').filter((s) => s !== '').map((s) => decodeURIComponent(s));
  } catch {
    return undefined;
  }
  if (segments[0] !== 'metadata') return undefined;
  const [, name, ...route] = segments;
  if (name === 'versions' && route.length === 0) return { category: 'versions', route };
  if (name === 'instance') return { category: 'instance', route };
  if (name === 'scheduledevents' && route.length === 0) return { category: 'scheduledevents', route };
  return undefined;
}

async function scheduledEvents(request: ServiceRequest, version: string): Promise<ServiceResponse> {
  const { fleet, vm } = request;
  await firstCallDelay(fleet, vm);
  if (request.method === 'POST') {
    const visible = new Set(fleet.eventsForVm(vm).map((e) => e.id));
    const ids = parseStartRequests(request.body, (id) => visible.has(id));
    if (typeof ids === 'string') return error(400, ids);
    fleet.approve(vm, ids);
    return textAnswer(200, '');
  }
  return jsonAnswer(200, scheduledEventsDocument(fleet, vm, version));
}

/** "The first request enables the feature and may take up to 2 minutes"; it turns off after 24 h idle. */
async function firstCallDelay(fleet: Fleet, vm: Vm): Promise<void> {
  const now = fleet.clock.now();
  const enabled = vm.eventsLastCallAt !== undefined && now - vm.eventsLastCallAt < FEATURE_IDLE_OFF_MS;
  vm.eventsLastCallAt = now;
  if (!enabled && fleet.settings.firstEventsCallDelayMs > 0) await sleep(systemClock, fleet.settings.firstEventsCallDelayMs);
}

function instance(request: ServiceRequest, version: string, route: string[], format: string): ServiceResponse {
  const document = instanceDocument(request.vm, version);
  const node = walkRoute(document, route);
  if (node === undefined) return error(404, 'Not found');
  if (format === 'text') return textAnswer(200, renderText(node));
  if (isLeaf(node)) return error(400, `Bad request. Leaf nodes must be queried with format=text. ${MORE}`);
  return jsonAnswer(200, node);
}

export function createAzureService(): MetadataService {
  return {
    statusAnswer: (status) => error(status, STATUS_REASONS[status] ?? `Error ${status}`),
    rateLimited: () => error(429, 'Too many requests'),
    async handle(request) {
      const { headers, method } = request;
      if (header(headers, 'x-forwarded-for') !== undefined) {
        return error(400, 'Bad request. Requests with an X-Forwarded-For header are not accepted.');
      }
      if ((header(headers, 'metadata') ?? '').toLowerCase() !== 'true') {
        return error(400, 'Bad request. Required metadata header not specified');
      }
      const target = categoryOf(request.path);
      if (!target) return error(404, 'Not found');
      const allowed = target.category === 'scheduledevents' ? ['GET', 'POST'] : ['GET'];
      if (!allowed.includes(method)) return jsonAnswer(405, { error: 'Method not allowed' }, { Allow: allowed.join(', ') });
      const repeated = repeatedParameter(request.rawQuery);
      if (repeated !== undefined) return error(400, `Bad request. Query parameter "${repeated}" is repeated.`);
      if (target.category === 'versions') return jsonAnswer(200, { apiVersions: [...API_VERSIONS].reverse() });

      const version = request.query.get('api-version');
      if (version === null || version === '') return badVersion(true);
      const known = target.category === 'instance' ? isInstanceVersion(version) : isScheduledEventsVersion(version);
      if (!known || !atLeast(version, CATEGORY_SINCE[target.category] ?? '')) return badVersion(false);
      const format = request.query.get('format') ?? 'json';
      if (format !== 'json' && format !== 'text') return error(400, `Bad request. format must be json or text. ${MORE}`);

      if (target.category === 'scheduledevents') return scheduledEvents(request, version);
      return instance(request, version, target.route, format);
    },
  };
}
