import { readFileSync, writeFileSync } from 'node:fs';
import { describe, expect, test } from '@jest/globals';
import { CONFIG_EXAMPLE, renderConfigReference } from '../../../src/controller/config/config-docs.js';
import { parseConfig } from '../../../src/controller/config/config.js';
import { CONFIG_SCHEMA } from '../../../src/controller/config/config-schema.js';
import { rewriteRequested } from '../../golden.js';

const docsFile = new URL('../../../docs/configuration.md', import.meta.url);

describe('docs/configuration.md', () => {
  test('is up to date with the schema (UPDATE_CONFIG_DOCS=1 rewrites it, never under CI)', () => {
    const rendered = renderConfigReference();
    if (rewriteRequested('UPDATE_CONFIG_DOCS')) writeFileSync(docsFile, rendered);
    expect(readFileSync(docsFile, 'utf8')).toBe(rendered);
  });

  test('documents every option', () => {
    const rendered = renderConfigReference();
    for (const key of ['labels.allowedTags', 'labels.standardTopology', 'policy.Reboot.leadTime', 'policy.SpotTermination.action', 'policy.providers', 'drain.maxConcurrentDrains', 'drain.maxGracePeriod', 'drain.evictionTimeout', 'drain.deleteEmptyDirData', 'drain.forceUnmanagedPods', 'approve', 'uncordonAfterCompletion']) {
      expect(rendered).toContain(`| \`${key}\` |`);
    }
    // Every top-level option has its row, whoever adds one.
    for (const key of Object.keys(CONFIG_SCHEMA.properties)) expect(rendered).toContain(`| \`${key}\` |`);
    for (const key of ['notifications.clusterName', 'notifications.sinks', 'notifications.sinks[].name', 'notifications.sinks[].format', 'notifications.sinks[].transitions', 'notifications.sinks[].urlFrom.env', 'notifications.sinks[].urlFrom.file']) {
      expect(rendered).toContain(`| \`${key}\` |`);
    }
  });

  test('the example in the docs is a valid configuration', () => {
    expect(parseConfig(CONFIG_EXAMPLE)).toMatchObject({ ok: true });
  });
});
