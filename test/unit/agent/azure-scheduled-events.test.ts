import { describe, expect, it } from '@jest/globals';
import { normalizeAzureScheduledEvents } from '../../../src/agent/providers/azure/scheduled-events.js';
import { LIMITS, PayloadError } from '../../../src/agent/providers/validation.js';
import { azureEvent, eventsDocument } from './azure-documents.js';

const ME = 'aks-pool1-12345678-vmss_3';

describe('normalizeAzureScheduledEvents', () => {
  it('normalises an event that names this VM', () => {
    const snapshot = normalizeAzureScheduledEvents(eventsDocument([azureEvent({ Resources: ['aks-pool1-12345678-vmss_2', ME] })]), ME);
    expect(snapshot).toEqual({
      events: [
        {
          id: 'f020ba2e-3bc0-4c40-a10b-86575a9eabd5',
          type: 'Reboot',
          rawType: 'Reboot',
          status: 'Scheduled',
          notBefore: '2026-11-22T10:15:00.000Z',
          durationSeconds: 7,
          source: 'Platform',
          description: 'Virtual machine is going to be restarted as requested by authorized user.',
          resources: ['aks-pool1-12345678-vmss_2', ME],
        },
      ],
      spot: undefined,
      incarnation: 3,
    });
  });

  it('keeps only events whose Resources name this VM, matched case-insensitively and exactly', () => {
    const doc = eventsDocument([
      azureEvent({ EventId: 'a', Resources: ['AKS-POOL1-12345678-VMSS_3'] }),
      azureEvent({ EventId: 'b', Resources: ['aks-pool1-12345678-vmss_33'] }),
      azureEvent({ EventId: 'c', Resources: ['aks-pool1-12345678-vmss_'] }),
      azureEvent({ EventId: 'd', Resources: [] }),
      azureEvent({ EventId: 'e', Resources: [` ${ME} `] }),
    ]);
    expect(normalizeAzureScheduledEvents(doc, ME).events.map((e) => e.id)).toEqual(['a', 'e']);
  });

  it('accepts NotBefore in RFC 1123, ISO 8601, and empty once started', () => {
    const doc = eventsDocument([
      azureEvent({ EventId: 'rfc', NotBefore: 'Mon, 19 Sep 2016 18:29:47 GMT' }),
      azureEvent({ EventId: 'iso', NotBefore: '2026-11-22T10:15:00Z' }),
      azureEvent({ EventId: 'started', NotBefore: '', EventStatus: 'Started' }),
      azureEvent({ EventId: 'absent', NotBefore: undefined }),
    ]);
    const events = normalizeAzureScheduledEvents(doc, ME).events;
    expect(events.map((e) => e.notBefore)).toEqual(['2016-09-19T18:29:47.000Z', '2026-11-22T10:15:00.000Z', undefined, undefined]);
    expect(events[2]!.status).toBe('Started');
  });

  it('keeps an event whose NotBefore is garbage, without a time, and warns', () => {
    const snapshot = normalizeAzureScheduledEvents(eventsDocument([azureEvent({ NotBefore: 'next tuesday' }), azureEvent({ EventId: 'n', NotBefore: 1700000000 })]), ME);
    expect(snapshot.events).toHaveLength(2);
    expect(snapshot.events[0]!.notBefore).toBeUndefined();
    expect(snapshot.warnings).toEqual([
      'Events[0].NotBefore: not an RFC 1123 or ISO 8601 time; treated as unknown',
      'Events[1].NotBefore: expected a string, got a number; treated as unknown',
    ]);
  });

  it('maps every documented type and keeps an unknown one as Unknown with its raw type', () => {
    const types = ['Freeze', 'Reboot', 'Redeploy', 'Preempt', 'Terminate', 'reboot', 'Hibernate'];
    const doc = eventsDocument(types.map((t, i) => azureEvent({ EventId: `e${i}`, EventType: t })));
    const events = normalizeAzureScheduledEvents(doc, ME).events;
    expect(events.map((e) => e.type)).toEqual(['Freeze', 'Reboot', 'Redeploy', 'Preempt', 'Terminate', 'Reboot', 'Unknown']);
    expect(events[6]!.rawType).toBe('Hibernate');
  });

  it('maps statuses and sources, unknown values to Unknown', () => {
    const doc = eventsDocument([azureEvent({ EventStatus: 'Completed', EventSource: 'Robot' }), azureEvent({ EventId: 'u', EventSource: 'User' })]);
    const events = normalizeAzureScheduledEvents(doc, ME).events;
    expect(events.map((e) => [e.status, e.source])).toEqual([
      ['Unknown', 'Unknown'],
      ['Scheduled', 'User'],
    ]);
  });

  it('reads DurationInSeconds (-1 unknown, 0 no interruption, numeric strings) and rejects nonsense', () => {
    const durations = [-1, 0, '15', -5, 1.5, 'ten'];
    const doc = eventsDocument(durations.map((d, i) => azureEvent({ EventId: `d${i}`, DurationInSeconds: d })));
    const snapshot = normalizeAzureScheduledEvents(doc, ME);
    expect(snapshot.events.map((e) => e.durationSeconds)).toEqual([-1, 0, 15, undefined, undefined, undefined]);
    expect(snapshot.warnings).toHaveLength(3);
  });

  it('reads DocumentIncarnation as a number, also from a numeric string', () => {
    expect(normalizeAzureScheduledEvents(eventsDocument([], '7'), ME).incarnation).toBe(7);
    const bad = normalizeAzureScheduledEvents(eventsDocument([], 'seven'), ME);
    expect(bad.incarnation).toBeUndefined();
    expect(bad.warnings).toEqual(['DocumentIncarnation: not a non-negative integer; ignored']);
  });

  it('drops malformed events one by one with a warning, keeping the good ones', () => {
    const doc = eventsDocument([
      'not an event',
      azureEvent({ EventId: undefined }),
      azureEvent({ EventId: 12 }),
      azureEvent({ EventType: undefined }),
      azureEvent({ Resources: 'aks-pool1-12345678-vmss_3' }),
      azureEvent({ EventId: 'good' }),
      azureEvent({ EventId: 'good' }),
    ] as Record<string, unknown>[]);
    const snapshot = normalizeAzureScheduledEvents(doc, ME);
    expect(snapshot.events.map((e) => e.id)).toEqual(['good']);
    expect(snapshot.warnings?.length).toBeGreaterThanOrEqual(6);
  });

  it('copes with thousands of events: filters, bounds what it keeps, says so', () => {
    const events = Array.from({ length: 5_000 }, (_, i) => azureEvent({ EventId: `id-${i}`, Resources: [i % 20 === 0 ? ME : `other-${i}`] }));
    const snapshot = normalizeAzureScheduledEvents(eventsDocument(events), ME);
    expect(snapshot.events).toHaveLength(LIMITS.maxEvents);
    expect(snapshot.warnings).toEqual([`150 events beyond the first ${LIMITS.maxEvents} dropped`]);
  });

  it('bounds a huge Resources list but keeps this VM in it', () => {
    const resources = [...Array.from({ length: 1_000 }, (_, i) => `vm-${i}`), ME];
    const snapshot = normalizeAzureScheduledEvents(eventsDocument([azureEvent({ Resources: resources })]), ME);
    expect(snapshot.events[0]!.resources).toHaveLength(LIMITS.maxResourcesPerEvent);
    expect(snapshot.events[0]!.resources[0]).toBe(ME);
  });

  it('bounds the description and strips control characters', () => {
    const snapshot = normalizeAzureScheduledEvents(eventsDocument([azureEvent({ Description: `line1\nline2\u0000${'x'.repeat(2_000)}` })]), ME);
    const d = snapshot.events[0]!.description!;
    expect(d.length).toBeLessThanOrEqual(LIMITS.maxDescriptionLength);
    expect(d).toMatch(/^line1 line2 x/);
  });

  it.each([
    ['null', null],
    ['a list', []],
    ['Events missing', { DocumentIncarnation: 1 }],
    ['Events an object', { DocumentIncarnation: 1, Events: {} }],
    ['Events a string', { DocumentIncarnation: 1, Events: '[]' }],
  ])('refuses a document with %s', (_what, doc) => {
    expect(() => normalizeAzureScheduledEvents(doc, ME)).toThrow(PayloadError);
  });
});
