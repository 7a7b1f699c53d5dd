import { describe, expect, test } from '@jest/globals';
import type { Observation } from '../../../src/api/observation.js';
import { DEFAULT_CONFIG, type ControllerConfig } from '../../../src/controller/config/config.js';
import {
  desiredLabels,
  labelApplyBody,
  labeledCondition,
  labelKeyProblem,
  labelValueProblem,
  ownedLabelKeys,
  planLabelChanges,
  sanitizeTagName,
  tagAllowList,
  type DesiredLabels,
} from '../../../src/controller/decide/labels.js';

function observation(overrides: Partial<Observation> = {}): Observation {
  return {
    provider: 'azure',
    observedTime: '2026-11-22T04:00:00Z',
    instance: {
      region: 'westeurope',
      zone: 'westeurope-2',
      faultDomain: '1',
      updateDomain: '3',
      instanceType: 'Standard_D4s_v5',
      priority: 'regular',
    },
    tags: [
      { name: 'env', value: 'prod' },
      { name: 'team', value: 'payments' },
      { name: 'secret-ish', value: 'x' },
    ],
    events: [],
    spot: undefined,
    ...overrides,
  };
}

const labelConfig = (overrides: Partial<ControllerConfig['labels']> = {}): ControllerConfig['labels'] => ({ ...DEFAULT_CONFIG.labels, allowedTags: ['env', 'team'], ...overrides });

describe('label validation', () => {
  test.each<[string, boolean]>([
    ['', true],
    ['westeurope-2', true],
    ['Standard_D4s_v5', true],
    ['ecs.g7.large', true],
    ['a'.repeat(63), true],
    ['a'.repeat(64), false],
    ['-leading', false],
    ['trailing.', false],
    ['has space', false],
    ['slash/inside', false],
    ['ünïcode', false],
  ])('value %j valid: %s', (value, valid) => {
    expect(labelValueProblem(value) === undefined).toBe(valid);
  });

  test.each<[string, boolean]>([
    ['nodemeta.io/zone', true],
    ['tag.nodemeta.io/env', true],
    ['plain', true],
    ['tag.nodemeta.io/', false],
    ['Tag.Nodemeta.io/env', false],
    [`tag.nodemeta.io/${'a'.repeat(64)}`, false],
    ['tag.nodemeta.io/-x', false],
  ])('key %j valid: %s', (key, valid) => {
    expect(labelKeyProblem(key) === undefined).toBe(valid);
  });

  test.each<[string, string]>([
    ['env', 'env'],
    ['cost center', 'cost-center'],
    ['k8s.io/role', 'k8s.io-role'],
    ['_private_', 'private'],
    ['  padded  ', 'padded'],
    ['日本', ''],
  ])('sanitizeTagName(%j) = %j', (name, expected) => {
    expect(sanitizeTagName(name)).toBe(expected);
  });

  test('allow-list: exact names and globs, case-sensitive, regex characters literal', () => {
    const allowed = tagAllowList(['env', 'team-*', 'v?', 'a.b']);
    expect(['env', 'team-a', 'team-', 'v1', 'a.b'].every(allowed)).toBe(true);
    expect(['Env', 'team', 'v12', 'axb', 'environment'].some(allowed)).toBe(false);
  });
});

describe('desiredLabels', () => {
  test('derives nodemeta.io labels and allow-listed tags', () => {
    expect(desiredLabels(observation(), labelConfig())).toEqual({
      labels: {
        'nodemeta.io/provider': 'azure',
        'nodemeta.io/region': 'westeurope',
        'nodemeta.io/zone': 'westeurope-2',
        'nodemeta.io/fault-domain': '1',
        'nodemeta.io/update-domain': '3',
        'nodemeta.io/instance-type': 'Standard_D4s_v5',
        'nodemeta.io/priority': 'regular',
        'tag.nodemeta.io/env': 'prod',
        'tag.nodemeta.io/team': 'payments',
      },
      standard: {},
      invalid: [],
    });
  });

  test('no observation, no labels', () => {
    expect(desiredLabels(undefined, labelConfig())).toEqual({ labels: {}, standard: {}, invalid: [] });
  });

  test('empty and absent values are left out silently', () => {
    const { labels, invalid } = desiredLabels(observation({ instance: { zone: '', faultDomain: '0' }, tags: undefined }), labelConfig());
    expect(labels).toEqual({ 'nodemeta.io/provider': 'azure', 'nodemeta.io/fault-domain': '0' });
    expect(invalid).toEqual([]);
  });

  test('invalid values are skipped and reported while the others still apply', () => {
    const { labels, invalid } = desiredLabels(
      observation({
        instance: { region: 'westeurope', zone: 'zone with spaces', instanceType: 'x'.repeat(64) },
        tags: [
          { name: 'env', value: 'prod' },
          { name: 'team', value: 'Payments & Billing' },
        ],
      }),
      labelConfig(),
    );
    expect(labels).toEqual({ 'nodemeta.io/provider': 'azure', 'nodemeta.io/region': 'westeurope', 'tag.nodemeta.io/env': 'prod' });
    expect(invalid.map(({ key, value }) => [key, value])).toEqual([
      ['nodemeta.io/zone', 'zone with spaces'],
      ['nodemeta.io/instance-type', 'x'.repeat(64)],
      ['tag.nodemeta.io/team', 'Payments & Billing'],
    ]);
    expect(invalid.every((item) => item.reason.length > 0)).toBe(true);
  });

  test('tag names are sanitized; unusable names and colliding tags are reported', () => {
    const { labels, invalid } = desiredLabels(
      observation({
        tags: [
          { name: 'cost center', value: 'c1' },
          { name: 'k8s.io/role', value: 'web' },
          { name: '日本', value: 'x' },
          { name: 'a b', value: '1' },
          { name: 'a-b', value: '2' },
          { name: 'n'.repeat(64), value: 'long' },
          { name: 'env', value: '' },
        ],
      }),
      labelConfig({ allowedTags: ['*'] }),
    );
    expect(Object.entries(labels).filter(([key]) => key.startsWith('tag.'))).toEqual([
      ['tag.nodemeta.io/cost-center', 'c1'],
      ['tag.nodemeta.io/k8s.io-role', 'web'],
      ['tag.nodemeta.io/env', ''],
    ]);
    expect(invalid.map((item) => item.key)).toEqual(['tag.nodemeta.io/日本', `tag.nodemeta.io/${'n'.repeat(64)}`, 'tag.nodemeta.io/a-b', 'tag.nodemeta.io/a-b']);
    expect(invalid[2]!.reason).toMatch(/"a b", "a-b" map to the same label/);
  });

  test('tags not on the allow-list never become labels', () => {
    const { labels } = desiredLabels(observation(), labelConfig({ allowedTags: [] }));
    expect(Object.keys(labels).some((key) => key.startsWith('tag.'))).toBe(false);
  });

  test('standard topology labels only when the config asks', () => {
    expect(desiredLabels(observation(), labelConfig()).standard).toEqual({});
    expect(desiredLabels(observation(), labelConfig({ standardTopology: true })).standard).toEqual({
      'topology.kubernetes.io/region': 'westeurope',
      'topology.kubernetes.io/zone': 'westeurope-2',
    });
  });
});

describe('planLabelChanges', () => {
  const desired = (labels: Record<string, string>, standard: Record<string, string> = {}): DesiredLabels => ({ labels, standard, invalid: [] });
  const warm = { cacheWarm: true };

  test('a new node gets every desired label', () => {
    const plan = planLabelChanges({ 'kubernetes.io/hostname': 'n1' }, new Set(), desired({ 'nodemeta.io/zone': 'z1' }), warm);
    expect(plan).toEqual({ apply: { 'nodemeta.io/zone': 'z1' }, set: { 'nodemeta.io/zone': 'z1' }, remove: [], skipped: [], changed: true });
  });

  test('stale own labels are removed by leaving them out of the apply', () => {
    const current = { 'nodemeta.io/zone': 'z1', 'tag.nodemeta.io/env': 'prod', 'kubernetes.io/hostname': 'n1' };
    const plan = planLabelChanges(current, new Set(['nodemeta.io/zone', 'tag.nodemeta.io/env']), desired({ 'nodemeta.io/zone': 'z1' }), warm);
    expect(plan.apply).toEqual({ 'nodemeta.io/zone': 'z1' });
    expect(plan.remove).toEqual(['tag.nodemeta.io/env']);
    expect(plan.set).toEqual({});
    expect(plan.changed).toBe(true);
  });

  test("foreign labels are never touched, even under nodemeta's prefix", () => {
    const current = { 'nodemeta.io/zone': 'set-by-hand', 'tag.nodemeta.io/team': 'ops', 'team': 'x' };
    const plan = planLabelChanges(current, new Set(), desired({ 'nodemeta.io/zone': 'z1', 'nodemeta.io/region': 'r1' }), warm);
    expect(plan.apply).toEqual({ 'nodemeta.io/region': 'r1' });
    expect(plan.remove).toEqual([]);
    expect(plan.skipped).toEqual([{ key: 'nodemeta.io/zone', value: 'z1', reason: 'already set to "set-by-hand" by another writer' }]);
  });

  test('a foreign label that already has the desired value is left alone without a complaint', () => {
    const plan = planLabelChanges({ 'nodemeta.io/zone': 'z1' }, new Set(), desired({ 'nodemeta.io/zone': 'z1' }), warm);
    expect(plan).toMatchObject({ apply: {}, skipped: [], changed: false });
  });

  test('an owned label with a new value is updated', () => {
    const plan = planLabelChanges({ 'nodemeta.io/zone': 'z1' }, new Set(['nodemeta.io/zone']), desired({ 'nodemeta.io/zone': 'z2' }), warm);
    expect(plan).toMatchObject({ set: { 'nodemeta.io/zone': 'z2' }, remove: [], changed: true });
  });

  test('a cold cache removes nothing but still adds and updates', () => {
    const current = { 'nodemeta.io/zone': 'z1', 'nodemeta.io/region': 'r1' };
    const plan = planLabelChanges(current, new Set(['nodemeta.io/zone', 'nodemeta.io/region']), desired({ 'nodemeta.io/zone': 'z2', 'nodemeta.io/priority': 'spot' }), { cacheWarm: false });
    expect(plan.remove).toEqual([]);
    expect(plan.apply).toEqual({ 'nodemeta.io/zone': 'z2', 'nodemeta.io/priority': 'spot', 'nodemeta.io/region': 'r1' });
    expect(plan.set).toEqual({ 'nodemeta.io/zone': 'z2', 'nodemeta.io/priority': 'spot' });
  });

  test('a cold cache with no observation keeps every owned label and needs no write', () => {
    const current = { 'nodemeta.io/zone': 'z1' };
    const plan = planLabelChanges(current, new Set(['nodemeta.io/zone']), desiredLabels(undefined, DEFAULT_CONFIG.labels), { cacheWarm: false });
    expect(plan).toEqual({ apply: { 'nodemeta.io/zone': 'z1' }, set: {}, remove: [], skipped: [], changed: false });
  });

  test('standard topology labels fill gaps only, and stay ours once written', () => {
    const want = desired({}, { 'topology.kubernetes.io/zone': 'westeurope-2' });
    expect(planLabelChanges({ 'topology.kubernetes.io/zone': 'westeurope-1' }, new Set(), want, warm)).toMatchObject({ apply: {}, skipped: [], changed: false });
    expect(planLabelChanges({}, new Set(), want, warm).set).toEqual({ 'topology.kubernetes.io/zone': 'westeurope-2' });
    expect(planLabelChanges({ 'topology.kubernetes.io/zone': 'westeurope-2' }, new Set(['topology.kubernetes.io/zone']), want, warm).changed).toBe(false);
  });

  test.each<[string, Record<string, string>, string[], boolean]>([
    ['fresh node', { 'kubernetes.io/hostname': 'n1' }, [], true],
    ['stale and foreign labels', { 'nodemeta.io/zone': 'old', 'tag.nodemeta.io/gone': 'x', 'nodemeta.io/region': 'by-hand' }, ['nodemeta.io/zone', 'tag.nodemeta.io/gone'], true],
    ['cold cache', { 'nodemeta.io/zone': 'old', 'tag.nodemeta.io/gone': 'x' }, ['nodemeta.io/zone', 'tag.nodemeta.io/gone'], false],
  ])('idempotent: planning again from the applied result changes nothing (%s)', (_name, current, ownedKeys, cacheWarm) => {
    const want = desiredLabels(observation(), labelConfig({ standardTopology: true }));
    const first = planLabelChanges(current, new Set(ownedKeys), want, { cacheWarm });
    // What the API server does with the apply: owned keys left out go, applied keys are set and owned.
    const after = { ...current };
    for (const key of first.remove) delete after[key];
    Object.assign(after, first.apply);
    const second = planLabelChanges(after, new Set(Object.keys(first.apply)), want, { cacheWarm });
    expect(second.changed).toBe(false);
    expect(second.apply).toEqual(first.apply);
  });
});

describe('ownedLabelKeys', () => {
  test("reads the controller's Apply entry only", () => {
    const managedFields = [
      { manager: 'nodemeta-controller', operation: 'Apply', fieldsType: 'FieldsV1', fieldsV1: { 'f:metadata': { 'f:labels': { 'f:nodemeta.io/zone': {}, 'f:tag.nodemeta.io/env': {} } } } },
      { manager: 'nodemeta-controller', operation: 'Update', fieldsV1: { 'f:metadata': { 'f:labels': { 'f:nodemeta.io/cordon-era': {} }, 'f:annotations': { 'f:nodemeta.io/cordoned': {} } } } },
      { manager: 'kubelet', operation: 'Update', fieldsV1: { 'f:metadata': { 'f:labels': { 'f:kubernetes.io/hostname': {} } } } },
      { manager: 'nodemeta-controller', operation: 'Apply', subresource: 'status', fieldsV1: { 'f:status': {} } },
      { manager: 'nodemeta-controller', operation: 'Apply', fieldsV1: { 'f:metadata': { 'f:labels': { '.': {} } } } },
    ];
    expect([...ownedLabelKeys(managedFields)].sort()).toEqual(['nodemeta.io/zone', 'tag.nodemeta.io/env']);
    expect(ownedLabelKeys(undefined).size).toBe(0);
  });
});

describe('labelApplyBody and labeledCondition', () => {
  test('the apply body names the node and carries exactly the planned labels', () => {
    expect(labelApplyBody('n1', { 'nodemeta.io/zone': 'z1' })).toEqual({ apiVersion: 'v1', kind: 'Node', metadata: { name: 'n1', labels: { 'nodemeta.io/zone': 'z1' } } });
  });

  test('Labeled is True when everything applied, False with the skipped items otherwise', () => {
    const clean = desiredLabels(observation(), labelConfig());
    expect(labeledCondition(clean, planLabelChanges({}, new Set(), clean, { cacheWarm: true }), 3)).toEqual({
      type: 'Labeled',
      status: 'True',
      reason: 'LabelsApplied',
      message: '9 labels applied',
      observedGeneration: 3,
    });
    const dirty = desiredLabels(observation({ instance: { zone: 'bad zone' } }), labelConfig());
    const condition = labeledCondition(dirty, planLabelChanges({}, new Set(), dirty, { cacheWarm: true }));
    expect(condition).toMatchObject({ status: 'False', reason: 'InvalidLabels' });
    expect(condition.message).toContain('nodemeta.io/zone="bad zone"');
  });
});
