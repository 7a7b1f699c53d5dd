// The chart's notification sinks (controller.notifications): rendered into the controller's
// configuration as files to read, each Secret key mounted where that file is; the URL itself never
// passes through the chart, its values or its ConfigMap.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, test } from '@jest/globals';
import { parse as parseYaml, stringify } from 'yaml';
import { parseConfig } from '../../src/controller/config/config.js';
import { CONFIG_SCHEMA } from '../../src/controller/config/config-schema.js';
import { CHART_DIR, findManifest, helm, parseManifests, renderChart, type Manifest } from './helm.js';

const VALUES = {
  config: { notifications: { clusterName: 'prod-westeurope' } },
  controller: {
    notifications: [
      { name: 'ops-slack', format: 'slack', transitions: ['Scheduled', 'DrainFailed', 'Completed'], existingSecret: 'nodemeta-webhooks', key: 'slack-url' },
      { name: 'audit', format: 'generic', existingSecret: 'audit-webhook', key: 'url', timeout: '5s', maxAttempts: 3, queueSize: 200 },
    ],
  },
};

function valuesFile(values: unknown): string {
  const file = path.join(mkdtempSync(path.join(tmpdir(), 'nodemeta-values-')), 'values.yaml');
  writeFileSync(file, stringify(values));
  return file;
}

let manifests: Manifest[];
beforeAll(async () => {
  manifests = parseManifests(await renderChart([valuesFile(VALUES)]));
}, 60_000);

describe('controller.notifications', () => {
  test('each sink becomes a sink of the configuration that reads its URL from a file; the controller accepts it', () => {
    const text = findManifest(manifests, 'ConfigMap', 'nodemeta-controller-config').data['config.yaml'] as string;
    expect(parseYaml(text)).toEqual({
      notifications: {
        clusterName: 'prod-westeurope',
        sinks: [
          { name: 'ops-slack', format: 'slack', transitions: ['Scheduled', 'DrainFailed', 'Completed'], urlFrom: { file: '/etc/nodemeta-notifications/ops-slack/url' } },
          { name: 'audit', format: 'generic', timeout: '5s', maxAttempts: 3, queueSize: 200, urlFrom: { file: '/etc/nodemeta-notifications/audit/url' } },
        ],
      },
    });
    const parsed = parseConfig(text);
    expect(parsed).toMatchObject({ ok: true });
    // No URL, no Secret name or key in the ConfigMap: only the files.
    expect(text).not.toMatch(/https?:|nodemeta-webhooks|slack-url/);
  });

  test('each Secret key is mounted, as file `url` in a directory of its own (no subPath: a rotated Secret arrives), read-only and optional', () => {
    const spec = findManifest(manifests, 'Deployment', 'nodemeta-controller').spec.template.spec;
    const mounts = spec.containers[0].volumeMounts as { name: string; mountPath: string; readOnly?: boolean; subPath?: string }[];
    const volumes = spec.volumes as { name: string; secret?: unknown }[];
    for (const [sink, secretName, key] of [
      ['ops-slack', 'nodemeta-webhooks', 'slack-url'],
      ['audit', 'audit-webhook', 'url'],
    ] as const) {
      expect(mounts).toContainEqual({ name: `notify-${sink}`, mountPath: `/etc/nodemeta-notifications/${sink}`, readOnly: true });
      expect(volumes).toContainEqual({ name: `notify-${sink}`, secret: { secretName, optional: true, defaultMode: 0o440, items: [{ key, path: 'url' }] } });
    }
    // Not through the environment either: a Secret in env needs a restart to rotate and shows in `kubectl describe`.
    expect(JSON.stringify(spec.containers[0].env)).not.toContain('secretKeyRef');
  });

  test('without sinks nothing changes: the ConfigMap is config as written, no Secret volume', async () => {
    const plain = parseManifests(await renderChart([valuesFile({ config: { approve: 'Never' } })]));
    expect(findManifest(plain, 'ConfigMap', 'nodemeta-controller-config').data['config.yaml']).toBe('approve: Never\n');
    const volumes = findManifest(plain, 'Deployment', 'nodemeta-controller').spec.template.spec.volumes as { name: string }[];
    expect(volumes.map((volume) => volume.name)).toEqual(['config', 'tmp']);
  });

  test('the values schema offers the formats and transitions the controller knows', () => {
    const schema = JSON.parse(readFileSync(path.join(CHART_DIR, 'values.schema.json'), 'utf8')) as {
      properties: { controller: { properties: { notifications: { items: { properties: { format: { enum: string[] }; transitions: { items: { enum: string[] } } } } } } } };
    };
    const chart = schema.properties.controller.properties.notifications.items.properties;
    const sink = (CONFIG_SCHEMA.properties.notifications.properties.sinks as unknown as { items: { properties: { format: { enum: string[] }; transitions: { items: { enum: string[] } } } } }).items.properties;
    expect(chart.format.enum).toEqual(sink.format.enum);
    expect(chart.transitions.items.enum).toEqual(sink.transitions.items.enum);
  });

  test.each([
    ['a URL in the values', { name: 'a', format: 'slack', existingSecret: 's', key: 'k', url: 'https://hooks.example/T/B/x' }, /additional properties 'url'|url/],
    ['no Secret', { name: 'a', format: 'slack', key: 'k' }, /existingSecret/],
    ['an unknown format', { name: 'a', format: 'discord', existingSecret: 's', key: 'k' }, /format/],
    ['an unknown transition', { name: 'a', format: 'teams', existingSecret: 's', key: 'k', transitions: ['Rebooted'] }, /transitions/],
  ])('rejects %s', async (_what, sink, message) => {
    const r = await helm(['template', 'nodemeta', CHART_DIR, '--values', valuesFile({ controller: { notifications: [sink] } })]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(message);
  });

  test('rejects a sink name used twice, in controller.notifications or next to config.notifications.sinks', async () => {
    const twice = { controller: { notifications: [{ name: 'a', format: 'slack', existingSecret: 's', key: 'k' }, { name: 'a', format: 'teams', existingSecret: 's', key: 'k' }] } };
    const r = await helm(['template', 'nodemeta', CHART_DIR, '--values', valuesFile(twice)]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('the sink name "a" is used twice');
    const across = { config: { notifications: { sinks: [{ name: 'a', format: 'generic', urlFrom: { env: 'A_URL' } }] } }, controller: { notifications: [{ name: 'a', format: 'slack', existingSecret: 's', key: 'k' }] } };
    expect((await helm(['template', 'nodemeta', CHART_DIR, '--values', valuesFile(across)])).stderr).toContain('the sink name "a" is used twice');
  });
});
