import { describe, expect, it } from '@jest/globals';
import { alibabaEventType, parseAlibabaSystemEvents } from '../../../src/agent/providers/alibaba/system-events.js';
import { LIMITS, PayloadError, Warnings } from '../../../src/agent/providers/validation.js';

function parse(text: string) {
  const w = new Warnings();
  const result = parseAlibabaSystemEvents(text, w);
  return { ...result, warnings: w.result() };
}

describe('alibabaEventType (documented mapping)', () => {
  it.each([
    ['SystemMaintenance.Reboot', 'Reboot'],
    ['SystemFailure.Reboot', 'Reboot'],
    ['InstanceFailure.Reboot', 'Reboot'],
    ['SystemMaintenance.RebootAndIsolateErrorDisk', 'Reboot'],
    ['SystemMaintenance.RebootAndReInitErrorDisk', 'Reboot'],
    ['SystemMaintenance.Redeploy', 'Redeploy'],
    ['SystemFailure.RedeployAndIsolateErrorDisk', 'Redeploy'],
    ['SystemUpgrade.Migrate', 'Redeploy'],
    ['SystemFailure.Stop', 'Terminate'],
    ['SystemMaintenance.Stop', 'Terminate'],
    ['InstanceExpiration.Stop', 'Terminate'],
    ['AccountUnbalanced.Delete', 'Terminate'],
    ['InstanceExpiration.Release', 'Terminate'],
    ['Spot.Reclaim', 'Preempt'],
    ['SpotInstance.Terminate', 'Preempt'],
    ['SystemMaintenance.Freeze', 'Freeze'],
    ['systemmaintenance.reboot', 'Reboot'],
    ['Reboot', 'Reboot'],
    ['SystemMaintenance.IsolateErrorDisk', 'Unknown'],
    ['SystemMaintenance.ReInitErrorDisk', 'Unknown'],
    ['Brand.New.Thing', 'Unknown'],
  ])('%s → %s', (code, type) => {
    expect(alibabaEventType(code)).toBe(type);
  });
});

describe('parseAlibabaSystemEvents', () => {
  it('reads a JSON list in the style of Alibaba APIs (EventType.Name, EventCycleStatus.Name)', () => {
    const text = JSON.stringify([
      {
        EventId: 'e-bp1ew7p4hnmvj1cs1e5w',
        EventType: { Code: 1, Name: 'SystemMaintenance.Reboot' },
        EventCycleStatus: { Code: 24, Name: 'Scheduled' },
        NotBefore: '2026-11-23T02:00:00Z',
        Reason: 'host upgrade',
      },
    ]);
    const r = parse(text);
    expect(r.events).toEqual([
      {
        id: 'e-bp1ew7p4hnmvj1cs1e5w',
        type: 'Reboot',
        rawType: 'SystemMaintenance.Reboot',
        status: 'Scheduled',
        notBefore: '2026-11-23T02:00:00.000Z',
        source: 'Platform',
        description: 'host upgrade',
        resources: [],
      },
    ]);
    expect(r.raw).toBe(text);
    expect(r.warnings).toBeUndefined();
  });

  it('reads flat JSON objects with lower-case or camel-case names', () => {
    const r = parse(JSON.stringify([{ code: 'SystemMaintenance.Redeploy', notBefore: 'Mon, 23 Nov 2026 02:00:00 GMT', status: 'Executing', id: 'e-1' }]));
    expect(r.events[0]).toMatchObject({ id: 'e-1', type: 'Redeploy', status: 'Started', notBefore: '2026-11-23T02:00:00.000Z' });
  });

  it('finds the list inside a wrapping object, or one event on its own', () => {
    expect(parse(JSON.stringify({ requestId: 'x', events: [{ code: 'SystemMaintenance.Reboot' }] })).events).toHaveLength(1);
    expect(parse(JSON.stringify({ SystemEvents: { SystemEvent: [{ EventType: 'SystemFailure.Stop' }] } })).events[0]!.type).toBe('Terminate');
    expect(parse(JSON.stringify({ EventType: 'SystemMaintenance.Reboot', NotBefore: '2026-11-23T02:00:00Z' })).events).toHaveLength(1);
  });

  it('reads one event a line when the answer is not JSON', () => {
    const r = parse('SystemMaintenance.Reboot 2026-11-23T02:00:00Z e-abc123 Scheduled\nSystemFailure.Redeploy,2026-11-23T04:00:00Z\n\n');
    expect(r.events.map((e) => [e.type, e.notBefore, e.status])).toEqual([
      ['Reboot', '2026-11-23T02:00:00.000Z', 'Scheduled'],
      ['Redeploy', '2026-11-23T04:00:00.000Z', 'Scheduled'],
    ]);
    expect(r.events[0]!.id).toBe('e-abc123');
    expect(r.events[1]!.id).toMatch(/^alibaba-[0-9a-f]{16}$/);
  });

  it('gives an event without an id the same synthetic id on every poll', () => {
    const a = parse('SystemMaintenance.Reboot 2026-11-23T02:00:00Z').events[0]!.id;
    const b = parse('SystemMaintenance.Reboot 2026-11-23T02:00:00Z').events[0]!.id;
    const c = parse('SystemMaintenance.Reboot 2026-11-24T02:00:00Z').events[0]!.id;
    expect(a).toBe(b);
    expect(c).not.toBe(a);
  });

  it('keeps unknown codes as Unknown with the raw code, and leaves finished events out', () => {
    const r = parse(JSON.stringify([{ code: 'SystemMaintenance.IsolateErrorDisk' }, { code: 'SystemMaintenance.Reboot', status: 'Executed' }, { code: 'SystemMaintenance.Reboot', status: 'Canceled' }]));
    expect(r.events).toEqual([expect.objectContaining({ type: 'Unknown', rawType: 'SystemMaintenance.IsolateErrorDisk', status: 'Scheduled' })]);
  });

  it('warns about items it cannot read, keeping the raw text', () => {
    const r = parse(JSON.stringify([{ foo: 'bar' }, 42, { code: 'SystemMaintenance.Reboot', NotBefore: 'soon' }]));
    expect(r.events).toHaveLength(1);
    expect(r.events[0]!.notBefore).toBeUndefined();
    expect(r.warnings).toHaveLength(3);
    expect(r.raw).toContain('"foo"');
  });

  it('treats an empty answer as no events', () => {
    expect(parse('')).toEqual({ events: [], raw: undefined, warnings: undefined });
    expect(parse('[]').events).toEqual([]);
  });

  it.each(['[{"code": "SystemMaintenance.Reb', '{"events": [', '"unterminated'])('refuses truncated JSON %j', (text) => {
    expect(() => parse(text)).toThrow(PayloadError);
  });

  it('bounds the raw text and the number of events', () => {
    const text = JSON.stringify(Array.from({ length: 3_000 }, (_, i) => ({ EventId: `e-${i}`, code: 'SystemMaintenance.Reboot' })));
    const r = parse(text);
    expect(r.events).toHaveLength(LIMITS.maxEvents);
    expect(r.raw!.length).toBeLessThanOrEqual(LIMITS.maxRawTextLength);
    expect(r.warnings).toEqual([`2900 system events beyond the first ${LIMITS.maxEvents} dropped`]);
  });

  it('reads a line-format list that is a JSON string', () => {
    expect(parse(JSON.stringify('SystemMaintenance.Reboot 2026-11-23T02:00:00Z')).events).toHaveLength(1);
  });
});
