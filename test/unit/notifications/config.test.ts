// The `notifications` section of the controller's configuration: validated like the rest, reloaded
// like the rest (a rejected file keeps the last good sinks), and never holding a URL.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, test } from '@jest/globals';
import { NOTIFICATION_TRANSITIONS } from '../../../src/api/nodemetadata.js';
import { DEFAULT_CONFIG, parseConfig } from '../../../src/controller/config/config.js';
import { ConfigWatcher, type ConfigReload } from '../../../src/controller/config/config-watcher.js';
import { FakeClock } from '../runtime/fake-clock.js';

const TOKEN = 'T0000/B0000/s3cr3t-t0k3n-xyz';

function errorsOf(yaml: string): string[] {
  const result = parseConfig(yaml);
  if (result.ok) throw new Error('expected the configuration to be rejected');
  return result.errors;
}

describe('notifications configuration', () => {
  test('none by default', () => {
    expect(DEFAULT_CONFIG.notifications).toEqual({ clusterName: '', sinks: [] });
  });

  test('a sink with its defaults: every transition, 10 s timeout, 10 attempts, 1000 queued', () => {
    const result = parseConfig(`notifications:
  clusterName: prod-westeurope
  sinks:
    - name: ops-slack
      format: slack
      urlFrom: {file: /etc/nodemeta/notifications/ops-slack/url}
    - name: audit
      format: generic
      transitions: [Scheduled, Completed, Cancelled]
      urlFrom: {env: AUDIT_WEBHOOK_URL}
      timeout: 3s
      maxAttempts: 2
      queueSize: 50
`);
    expect(result).toMatchObject({ ok: true });
    if (!result.ok) return;
    expect(result.config.notifications).toEqual({
      clusterName: 'prod-westeurope',
      sinks: [
        { name: 'ops-slack', format: 'slack', transitions: [...NOTIFICATION_TRANSITIONS], urlFrom: { file: '/etc/nodemeta/notifications/ops-slack/url' }, timeoutMs: 10_000, maxAttempts: 10, queueSize: 1000 },
        { name: 'audit', format: 'generic', transitions: ['Scheduled', 'Completed', 'Cancelled'], urlFrom: { env: 'AUDIT_WEBHOOK_URL' }, timeoutMs: 3_000, maxAttempts: 2, queueSize: 50 },
      ],
    });
  });

  test('a URL written into the file is refused, and the refusal does not repeat it', () => {
    const errors = errorsOf(`notifications:\n  sinks:\n    - {name: ops, format: slack, url: "https://hooks.slack.com/services/${TOKEN}"}\n`);
    expect(errors.join('\n')).toMatch(/notifications\.sinks\[0\]\.url: unknown key \(expected one of: name, format, transitions, urlFrom/);
    expect(errors.join('\n')).toMatch(/notifications\.sinks\[0\]: .*urlFrom/);
    expect(errors.join('\n')).not.toContain(TOKEN);
  });

  test('a URL pasted where its source belongs is not repeated either', () => {
    const errors = errorsOf(`notifications:\n  sinks:\n    - {name: a, format: slack, urlFrom: {file: "https://hooks.slack.com/services/${TOKEN}"}}\n    - {name: b, format: slack, urlFrom: {env: "https://hooks.slack.com/services/${TOKEN}"}}\n`);
    expect(errors).toEqual([
      'notifications.sinks[0].urlFrom.file: must match ^/ (got a value not shown here)',
      'notifications.sinks[1].urlFrom.env: must match ^[A-Za-z_][A-Za-z0-9_]*$ (got a value not shown here)',
    ]);
    expect(errors.join('\n')).not.toContain('T0000');
  });

  test.each<[string, string, RegExp]>([
    ['an unknown format', '{name: a, format: discord, urlFrom: {env: X}}', /notifications\.sinks\[0\]\.format: must be one of generic, slack, teams \(got "discord"\)/],
    ['an unknown transition', '{name: a, format: generic, transitions: [Rebooted], urlFrom: {env: X}}', /notifications\.sinks\[0\]\.transitions\[0\]: must be one of Scheduled, SpotReclaim/],
    ['no transition at all', '{name: a, format: generic, transitions: [], urlFrom: {env: X}}', /notifications\.sinks\[0\]\.transitions/],
    ['both URL sources', '{name: a, format: generic, urlFrom: {env: X, file: /x}}', /notifications\.sinks\[0\]\.urlFrom: must set exactly one of env, file/],
    ['no URL source', '{name: a, format: generic, urlFrom: {}}', /notifications\.sinks\[0\]\.urlFrom: must set exactly one of env, file/],
    ['a relative file', '{name: a, format: generic, urlFrom: {file: url.txt}}', /notifications\.sinks\[0\]\.urlFrom\.file: must match/],
    ['a name that cannot be a metric label value we promise', '{name: Ops_Slack, format: generic, urlFrom: {env: X}}', /notifications\.sinks\[0\]\.name: must match/],
    ['a malformed timeout', '{name: a, format: generic, urlFrom: {env: X}, timeout: 10 seconds}', /notifications\.sinks\[0\]\.timeout: must be a duration/],
    ['no queue', '{name: a, format: generic, urlFrom: {env: X}, queueSize: 0}', /notifications\.sinks\[0\]\.queueSize: must be at least 1/],
  ])('rejects %s', (_what, sink, message) => {
    expect(errorsOf(`notifications:\n  sinks:\n    - ${sink}\n`).join('\n')).toMatch(message);
  });

  test('rejects two sinks of the same name', () => {
    expect(errorsOf('notifications:\n  sinks:\n    - {name: ops, format: slack, urlFrom: {env: A}}\n    - {name: ops, format: teams, urlFrom: {env: B}}\n')).toEqual([
      'notifications.sinks[1].name: "ops" is the name of notifications.sinks[0] already',
    ]);
  });
});

describe('notifications configuration reloads', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });

  test('a valid change of the sinks applies; an invalid one keeps the last good sinks', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'nodemeta-notifications-'));
    dirs.push(dir);
    const path = join(dir, 'config.yaml');
    writeFileSync(path, 'notifications:\n  sinks:\n    - {name: ops, format: slack, urlFrom: {env: OPS_URL}}\n');
    const reloads: ConfigReload[] = [];
    const watcher = new ConfigWatcher({ path, clock: new FakeClock(), onReload: (reload) => reloads.push(reload), useFsWatch: false });
    try {
      expect((await watcher.start()).notifications.sinks.map((sink) => sink.name)).toEqual(['ops']);
      writeFileSync(path, 'notifications:\n  sinks:\n    - {name: ops, format: slack, urlFrom: {env: OPS_URL}}\n    - {name: audit, format: generic, urlFrom: {file: /etc/audit/url}}\n');
      await watcher.reload();
      expect(watcher.config().notifications.sinks.map((sink) => sink.name)).toEqual(['ops', 'audit']);
      writeFileSync(path, 'notifications:\n  sinks:\n    - {name: ops, format: slack, url: "https://hooks.example/x"}\n');
      await watcher.reload();
      expect(reloads.at(-1)).toMatchObject({ ok: false });
      expect(watcher.config().notifications.sinks.map((sink) => sink.name)).toEqual(['ops', 'audit']);
    } finally {
      watcher.stop();
    }
  });
});
