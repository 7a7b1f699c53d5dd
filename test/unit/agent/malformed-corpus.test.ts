import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { parseAlibabaSystemEvents } from '../../../src/agent/providers/alibaba/system-events.js';
import { normalizeAzureCompute } from '../../../src/agent/providers/azure/normalize.js';
import { normalizeAzureScheduledEvents } from '../../../src/agent/providers/azure/scheduled-events.js';
import { parseJsonPayload, PayloadError, Warnings } from '../../../src/agent/providers/validation.js';
import { azureEvent, eventsDocument } from './azure-documents.js';

const CORPUS = join(process.cwd(), 'test/fixtures/malformed');

/** What each payload must produce: a clear PayloadError, or a result that carries warnings. */
const EXPECTED: Record<string, 'error' | 'warnings' | 'clean'> = {
  'azure-compute/truncated.json': 'error',
  'azure-compute/empty.json': 'error',
  'azure-compute/array.json': 'error',
  'azure-compute/string.json': 'error',
  'azure-compute/null.json': 'error',
  'azure-compute/html.json': 'error',
  'azure-compute/wrong-types.json': 'warnings',
  'azure-compute/bad-tags.json': 'warnings',
  'azure-compute/control-characters.json': 'warnings',
  'azure-events/truncated.json': 'error',
  'azure-events/no-events.json': 'error',
  'azure-events/events-object.json': 'error',
  'azure-events/wrong-types.json': 'warnings',
  'azure-events/notbefore-garbage.json': 'warnings',
  'azure-events/unknown-type.json': 'clean',
  'alibaba-events/truncated.json': 'error',
  'alibaba-events/object-without-list.json': 'warnings',
  'alibaba-events/wrong-types.json': 'warnings',
  'alibaba-events/lines-garbage.txt': 'warnings',
  'alibaba-events/xml.txt': 'warnings',
};

function normalise(kind: string, text: string): { warnings?: string[] } {
  switch (kind) {
    case 'azure-compute':
      return normalizeAzureCompute(parseJsonPayload(text)).snapshot;
    case 'azure-events':
      return normalizeAzureScheduledEvents(parseJsonPayload(text), 'vm-0');
    case 'alibaba-events': {
      const w = new Warnings();
      const r = parseAlibabaSystemEvents(text, w);
      return { ...r, warnings: w.result() };
    }
    default:
      throw new Error(`no normaliser for ${kind}`);
  }
}

const files = readdirSync(CORPUS, { withFileTypes: true })
  .filter((d) => d.isDirectory())
  .flatMap((d) => readdirSync(join(CORPUS, d.name)).map((f) => `${d.name}/${f}`));

describe('malformed payload corpus (test/fixtures/malformed)', () => {
  it('has an expectation for every file', () => {
    expect(files.sort()).toEqual(Object.keys(EXPECTED).sort());
  });

  it.each(files)('%s: a clear error or warnings, never a crash', (file) => {
    const [kind = ''] = file.split('/');
    const text = readFileSync(join(CORPUS, file), 'utf8');
    let outcome: 'error' | 'warnings' | 'clean';
    let message: string;
    try {
      const result = normalise(kind, text);
      outcome = result.warnings && result.warnings.length > 0 ? 'warnings' : 'clean';
      message = JSON.stringify(result);
    } catch (err) {
      expect(err).toBeInstanceOf(PayloadError);
      outcome = 'error';
      message = (err as Error).message;
      expect(message.length).toBeGreaterThan(10);
    }
    expect(outcome).toBe(EXPECTED[file]);
    // Nothing that could break a log line or a label gets through.
    // eslint-disable-next-line no-control-regex
    expect(message).not.toMatch(/[\u0000-\u0008]/);
    expect(message).not.toContain('INJECTED log line');
  });

  it('copes with thousands of events and tags generated on the fly', () => {
    const events = Array.from({ length: 20_000 }, (_, i) => azureEvent({ EventId: `e${i}`, Resources: ['vm-0'], NotBefore: i % 3 === 0 ? 'garbage' : '' }));
    const snapshot = normalizeAzureScheduledEvents(eventsDocument(events), 'vm-0');
    expect(snapshot.events).toHaveLength(100);
    expect(snapshot.warnings!.length).toBeLessThanOrEqual(21);
    const w = new Warnings();
    const lines = Array.from({ length: 20_000 }, (_, i) => `SystemMaintenance.Reboot 2026-11-23T02:00:00Z e-${i}`).join('\n');
    expect(parseAlibabaSystemEvents(lines, w).events).toHaveLength(100);
  });
});
