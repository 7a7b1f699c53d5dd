// The CRD file is the contract the API server enforces; these checks catch a broken file, a schema
// that drifted from the TypeScript types, and enums that no longer match the code. The real API
// server (CEL rules, list-map semantics) is exercised by the integration tests.
import { readFileSync } from 'node:fs';
import { describe, expect, test } from '@jest/globals';
import { Ajv } from 'ajv';
import addFormats from 'ajv-formats';
import { parse } from 'yaml';
import { GROUP, KIND, PLURAL, SHORT_NAME, VERSION } from '../../../src/api/names.js';
import { EVENT_TYPES } from '../../../src/api/observation.js';
import { OTHER_DRAINERS, MAINTENANCE_PHASES, NOTIFICATION_TRANSITIONS, SPOT_TERMINATION, type NodeMetadata } from '../../../src/api/nodemetadata.js';
import { MAX_PENDING_NOTIFICATIONS } from '../../../src/controller/notifications/transitions.js';

type Schema = Record<string, unknown>;

const crd = parse(readFileSync(new URL('../../../crds/nodemetadatas.nodemeta.io.yaml', import.meta.url), 'utf8')) as {
  metadata: { name: string };
  spec: {
    group: string;
    scope: string;
    names: { kind: string; plural: string; singular: string; shortNames: string[]; categories: string[] };
    versions: {
      name: string;
      served: boolean;
      storage: boolean;
      subresources: Record<string, unknown>;
      additionalPrinterColumns: { name: string; jsonPath: string }[];
      schema: { openAPIV3Schema: Schema };
    }[];
  };
};
const version = crd.spec.versions[0]!;
const rootSchema = version.schema.openAPIV3Schema;

/** The schema as plain JSON Schema: Kubernetes extensions dropped. */
function plainJsonSchema(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(plainJsonSchema);
  if (schema === null || typeof schema !== 'object') return schema;
  const entries = Object.entries(schema).filter(([key]) => !key.startsWith('x-kubernetes-'));
  return Object.fromEntries(entries.map(([key, value]) => [key, key === 'enum' || key === 'required' ? value : plainJsonSchema(value)]));
}

/** Structural schemas prune unknown fields; ajv should instead reject them so typos show up here. */
function closeObjects(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(closeObjects);
  if (schema === null || typeof schema !== 'object') return schema;
  const result = Object.fromEntries(
    Object.entries(schema).map(([key, value]) => [key, key === 'properties' ? mapValues(value as Schema, (child, name) => (name === 'metadata' ? child : closeObjects(child))) : closeObjects(value)]),
  );
  if ((schema as Schema).properties !== undefined && (schema as Schema).type === 'object') result.additionalProperties = false;
  return result;
}

function mapValues(object: Schema, fn: (value: unknown, key: string) => unknown): Schema {
  return Object.fromEntries(Object.entries(object).map(([key, value]) => [key, fn(value, key)]));
}

function compile() {
  const ajv = new Ajv({ allErrors: true, strict: true });
  // ajv-formats is CommonJS with a `default` property; under nodenext the default import is module.exports.
  addFormats.default(ajv);
  ajv.addFormat('int32', { type: 'number', validate: (n: number) => Number.isInteger(n) && Math.abs(n) < 2 ** 31 });
  ajv.addFormat('int64', { type: 'number', validate: (n: number) => Number.isSafeInteger(n) });
  return ajv.compile(closeObjects(plainJsonSchema(rootSchema)) as Schema);
}
const validate = compile();

function realisticObject(): NodeMetadata {
  return {
    apiVersion: 'nodemeta.io/v1alpha1',
    kind: 'NodeMetadata',
    metadata: {
      name: 'aks-pool1-12345678-vmss000003',
      ownerReferences: [{ apiVersion: 'v1', kind: 'Node', name: 'aks-pool1-12345678-vmss000003', uid: '6b3c', blockOwnerDeletion: false }],
    },
    spec: { drain: 'Enabled' },
    status: {
      provider: 'azure',
      observedTime: '2026-11-22T04:00:00.000Z',
      instance: {
        id: '8f0c1a5e-0000-4000-8000-000000000001',
        name: 'aks-pool1-12345678-vmss_3',
        region: 'westeurope',
        zone: 'westeurope-2',
        faultDomain: '1',
        updateDomain: '3',
        instanceType: 'Standard_D4s_v5',
        priority: 'spot',
        scaleSet: 'aks-pool1-12345678-vmss',
      },
      tags: [
        { name: 'env', value: 'prod' },
        { name: 'cost center', value: '' },
      ],
      events: [
        {
          id: 'C7061BAC-AFDC-4513-B24B-AA5F13A16123',
          type: 'Reboot',
          rawType: 'Reboot',
          status: 'Scheduled',
          notBefore: '2026-11-22T04:15:00.000Z',
          durationSeconds: -1,
          source: 'Platform',
          description: 'Virtual machine is going to be restarted as requested by authorized user.',
          resources: ['aks-pool1-12345678-vmss_3', 'aks-pool1-12345678-vmss_4'],
        },
      ],
      spot: { terminationTime: '2026-11-22T04:05:00Z' },
      incarnation: 3,
      warnings: ['tag "x": value longer than 256 characters; ignored'],
      approvals: [{ eventId: 'C7061BAC-AFDC-4513-B24B-AA5F13A16123', time: '2026-11-22T04:09:00Z' }],
      maintenance: {
        phase: 'Draining',
        eventId: 'C7061BAC-AFDC-4513-B24B-AA5F13A16123',
        eventType: 'Reboot',
        notBefore: '2026-11-22T04:15:00.000Z',
        startedTime: '2026-11-22T04:01:00Z',
        totalPods: 12,
        pendingPods: 2,
        evictedPods: 10,
        blockedPods: [{ namespace: 'shop', name: 'web-0', reason: 'PodDisruptionBudget shop/web allows no disruption' }],
        lastError: 'Too Many Requests',
        approve: 'C7061BAC-AFDC-4513-B24B-AA5F13A16123',
      },
      observedGeneration: 1,
      notifications: {
        pending: [
          { transition: 'DrainStarted', time: '2026-11-22T04:01:00.125Z', eventId: 'C7061BAC-AFDC-4513-B24B-AA5F13A16123', eventType: 'Reboot', notBefore: '2026-11-22T04:15:00.000Z', phase: 'Draining', totalPods: 12, evictedPods: 0, pendingPods: 12, blockedPods: 0 },
          { transition: 'DrainFailed', time: '2026-11-22T04:31:00.000Z', eventId: 'C7061BAC-AFDC-4513-B24B-AA5F13A16123', phase: 'Failed', detail: 'drain timed out after 1800s with 2 pods left' },
        ],
      },
      conditions: [
        { type: 'MetadataAvailable', status: 'True', reason: 'Polled', message: '', lastTransitionTime: '2026-11-22T03:00:00Z' },
        { type: 'Labeled', status: 'False', reason: 'InvalidValues', message: 'tag "cost center": invalid', lastTransitionTime: '2026-11-22T03:00:00Z', observedGeneration: 1 },
        { type: 'DrainReady', status: 'False', reason: 'PodDisruptionBudget', message: '1 pod would block a drain: 1 under PodDisruptionBudget shop/web (allows 0 disruptions)', lastTransitionTime: '2026-11-22T03:00:00Z', observedGeneration: 1 },
      ],
      drainReadiness: {
        blockers: [{ pod: 'shop/web-7d4b9-x2x9k', reason: 'PodDisruptionBudget', message: 'PodDisruptionBudget shop/web allows 0 disruptions' }],
        blockedPods: 1,
        warnings: [{ pod: 'shop/db-0', reason: 'SingleReplica', message: 'every ready replica of StatefulSet shop/db is on this node' }],
        lastEvaluated: '2026-11-22T03:00:00Z',
      },
    },
  };
}

// Tests below break the object on purpose, in ways its types forbid.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Untyped = any;

/** Applies `mutate` to a fresh realistic object and validates it. */
function validateWith(mutate: (object: Untyped) => void): boolean {
  const object: Untyped = realisticObject();
  mutate(object);
  return validate(object) as boolean;
}

function schemaAt(path: string[]): Schema {
  return path.reduce<Schema>((schema, name) => {
    const next = name === '[]' ? (schema.items as Schema) : (schema.properties as Record<string, Schema>)[name];
    if (next === undefined) throw new Error(`no schema at ${path.join('.')}`);
    return next;
  }, rootSchema);
}

describe('NodeMetadata CRD', () => {
  test('names match the public contract in src/api/names.ts', () => {
    expect(crd.metadata.name).toBe(`${PLURAL}.${GROUP}`);
    expect(crd.spec.group).toBe(GROUP);
    expect(crd.spec.scope).toBe('Cluster');
    expect(crd.spec.names).toMatchObject({ kind: KIND, plural: PLURAL, singular: 'nodemetadata', shortNames: [SHORT_NAME], categories: ['nodemeta'] });
    expect(crd.spec.versions).toHaveLength(1);
    expect(version).toMatchObject({ name: VERSION, served: true, storage: true, subresources: { status: {} } });
  });

  test('printer columns show provider, zone, fault/update domain, event, phase, drain readiness, dry run and the other drainer (NotBefore and pending pods with -o wide), and point at real fields', () => {
    const columns = version.additionalPrinterColumns as { name: string; jsonPath: string; priority?: number }[];
    expect(columns.filter((column) => column.priority === undefined).map((column) => column.name)).toEqual(['Provider', 'Zone', 'FD', 'UD', 'Event', 'Phase', 'Drain-Ready', 'DryRun', 'Other', 'Age']);
    expect(columns.find((column) => column.name === 'Other')?.jsonPath).toBe('.status.maintenance.otherDrainer');
    expect(columns.find((column) => column.name === 'Drain-Ready')?.jsonPath).toBe('.status.conditions[?(@.type=="DrainReady")].status');
    expect(columns.filter((column) => column.priority === 1).map((column) => column.name)).toEqual(['NotBefore', 'Pending']);
    for (const { jsonPath } of columns) {
      if (jsonPath === '.metadata.creationTimestamp') continue;
      // A filter on a list (`conditions[?(@.type=="DrainReady")]`) reads one of its items.
      expect(() => schemaAt(jsonPath.replace(/\[\?\(.*?\)\]/g, '.[]').slice(1).split('.'))).not.toThrow();
    }
  });

  test('accepts a realistic full object (built against the TypeScript types)', () => {
    const valid = validate(realisticObject());
    expect(validate.errors ?? []).toEqual([]);
    expect(valid).toBe(true);
  });

  test('accepts the status of a dry run: the marker and the approval a real run would have asked for', () => {
    const object = realisticObject();
    const maintenance = object.status!.maintenance!;
    delete maintenance.approve;
    object.status!.maintenance = { ...maintenance, dryRun: true, wouldApprove: maintenance.eventId! };
    object.status!.notifications = { pending: [{ transition: 'Drained', time: '2026-11-22T04:05:00.000Z', eventId: maintenance.eventId!, phase: 'Drained', dryRun: true }] };
    expect(validate(object)).toBe(true);
    expect(validate.errors ?? []).toEqual([]);
  });

  test('accepts an object with no status yet', () => {
    expect(validate({ apiVersion: 'nodemeta.io/v1alpha1', kind: 'NodeMetadata', metadata: { name: 'node-1' } })).toBe(true);
  });

  test.each<[string, (object: Untyped) => void]>([
    ['unknown provider', (o) => (o.status.provider = 'aws')],
    ['bad event type', (o) => o.status.events[0].type = 'Reboots'],
    ['bad event status', (o) => o.status.events[0].status = 'Completed'],
    ['notBefore not a date-time', (o) => o.status.events[0].notBefore = 'Mon, 19 Sep 2016 18:29:47 GMT'],
    ['durationSeconds below -1', (o) => o.status.events[0].durationSeconds = -2],
    ['event without id', (o) => delete o.status.events[0].id],
    ['bad phase', (o) => (o.status.maintenance.phase = 'Evicting')],
    ['bad maintenance event type', (o) => (o.status.maintenance.eventType = 'Spot')],
    ['negative pod count', (o) => (o.status.maintenance.pendingPods = -1)],
    ['too many blocked pods', (o) => (o.status.maintenance.blockedPods = Array.from({ length: 21 }, (_, i) => ({ namespace: 'a', name: `p${i}`, reason: 'r' })))],
    ['tag value too long', (o) => (o.status.tags[0].value = 'v'.repeat(257))],
    ['empty tag name', (o) => (o.status.tags[0].name = '')],
    ['instance field too long', (o) => (o.status.instance.zone = 'z'.repeat(257))],
    ['bad priority', (o) => (o.status.instance.priority = 'Spot')],
    ['condition status not True/False/Unknown', (o) => (o.status.conditions[0].status = 'true')],
    ['condition reason with spaces', (o) => (o.status.conditions[0].reason = 'Not polled')],
    ['condition without lastTransitionTime', (o) => delete o.status.conditions[0].lastTransitionTime],
    ['spec.drain not an enum value', (o) => (o.spec.drain = 'Off')],
    ['unknown status field', (o) => (o.status.surprise = 1)],
    ['a notification of an unknown transition', (o) => (o.status.notifications.pending[0].transition = 'Rebooted')],
    ['a pending notification without its event', (o) => delete o.status.notifications.pending[0].eventId],
    ['more pending notifications than the outbox keeps', (o) => (o.status.notifications.pending = Array.from({ length: MAX_PENDING_NOTIFICATIONS + 1 }, () => o.status.notifications.pending[0]))],
    ['a name that is not a node name', (o) => (o.metadata.name = 'Node_1')],
    ['a name longer than 253', (o) => (o.metadata.name = 'a'.repeat(254))],
  ])('rejects %s', (_name, mutate) => {
    expect(validateWith(mutate)).toBe(false);
  });

  test('enums match the code', () => {
    expect(schemaAt(['status', 'maintenance', 'phase']).enum).toEqual([...MAINTENANCE_PHASES]);
    expect(schemaAt(['status', 'events', '[]', 'type']).enum).toEqual([...EVENT_TYPES]);
    expect(schemaAt(['status', 'maintenance', 'eventType']).enum).toEqual([...EVENT_TYPES, SPOT_TERMINATION]);
    expect(schemaAt(['status', 'maintenance', 'otherDrainer']).enum).toEqual([...OTHER_DRAINERS]);
    expect(schemaAt(['status', 'notifications', 'pending', '[]', 'transition']).enum).toEqual([...NOTIFICATION_TRANSITIONS]);
    expect(schemaAt(['status', 'notifications', 'pending', '[]', 'phase']).enum).toEqual([...MAINTENANCE_PHASES]);
    expect(schemaAt(['status', 'notifications', 'pending']).maxItems).toBe(MAX_PENDING_NOTIFICATIONS);
  });

  test('lists are list-maps keyed by their identity, bounded', () => {
    const keyed: [string[], string][] = [
      [['status', 'tags'], 'name'],
      [['status', 'events'], 'id'],
      [['status', 'approvals'], 'eventId'],
      [['status', 'conditions'], 'type'],
    ];
    for (const [path, key] of keyed) {
      const schema = schemaAt(path);
      expect(schema['x-kubernetes-list-type']).toBe('map');
      expect(schema['x-kubernetes-list-map-keys']).toEqual([key]);
      expect(typeof schema.maxItems).toBe('number');
    }
  });

  test('every string and list the schema declares is bounded', () => {
    const unbounded: string[] = [];
    const walk = (schema: Schema, path: string): void => {
      if (schema.type === 'string' && schema.maxLength === undefined && schema.enum === undefined && schema.format !== 'date-time' && !['.apiVersion', '.kind'].includes(path)) unbounded.push(path);
      if (schema.type === 'array' && schema.maxItems === undefined) unbounded.push(path);
      for (const [name, child] of Object.entries((schema.properties as Record<string, Schema>) ?? {})) walk(child, `${path}.${name}`);
      if (schema.items !== undefined) walk(schema.items as Schema, `${path}[]`);
    };
    walk(rootSchema, '');
    expect(unbounded).toEqual([]);
  });
});
