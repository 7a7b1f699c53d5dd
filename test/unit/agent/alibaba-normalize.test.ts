import { describe, expect, it } from '@jest/globals';
import { normalizeAlibabaInstance, normalizeAlibabaTags, parseSpotTerminationTime } from '../../../src/agent/providers/alibaba/normalize.js';
import { Warnings } from '../../../src/agent/providers/validation.js';

describe('Alibaba normalisation', () => {
  it('maps the items to InstanceInfo', () => {
    const w = new Warnings();
    const instance = normalizeAlibabaInstance(
      {
        'instance-id': 'i-bp13znx0m0me8cquu1234\n',
        'region-id': 'cn-hangzhou',
        'zone-id': 'cn-hangzhou-i',
        'instance/instance-type': 'ecs.g6e.large',
        'instance/instance-name': 'ack-node-1',
        hostname: 'iZbp13znx0m0me8cquu1234Z',
      },
      w,
    );
    expect(instance).toEqual({
      id: 'i-bp13znx0m0me8cquu1234',
      region: 'cn-hangzhou',
      zone: 'cn-hangzhou-i',
      instanceType: 'ecs.g6e.large',
      name: 'ack-node-1',
      hostname: 'iZbp13znx0m0me8cquu1234Z',
    });
    expect(w.result()).toBeUndefined();
  });

  it('keeps region-id and zone-id as given: already ACK\'s topology label values (cn-hangzhou, cn-hangzhou-k)', () => {
    const w = new Warnings();
    const instance = normalizeAlibabaInstance({ 'instance-id': 'i-1', 'region-id': 'cn-hangzhou', 'zone-id': 'cn-hangzhou-k' }, w);
    expect(instance.region).toBe('cn-hangzhou');
    expect(instance.zone).toBe('cn-hangzhou-k');
    expect(w.result()).toBeUndefined();
  });

  it('leaves absent items out and warns about a zone outside the region', () => {
    const w = new Warnings();
    const instance = normalizeAlibabaInstance({ 'instance-id': 'i-1', 'region-id': 'cn-hangzhou', 'zone-id': 'cn-beijing-a' }, w);
    expect(instance.instanceType).toBeUndefined();
    expect(w.result()).toEqual(['zone-id cn-beijing-a is not in region-id cn-hangzhou']);
  });

  it('keeps tag values with ";" and ":" and drops vanished ones', () => {
    const w = new Warnings();
    expect(normalizeAlibabaTags([['owner', 'a:b;c'], ['gone', undefined]], w)).toEqual([{ name: 'owner', value: 'a:b;c' }]);
  });

  it('reads the spot termination time, warns about garbage', () => {
    const w = new Warnings();
    expect(parseSpotTerminationTime('2020-04-07T17:03:00Z', w)).toBe('2020-04-07T17:03:00.000Z');
    expect(parseSpotTerminationTime('', w)).toBeUndefined();
    expect(parseSpotTerminationTime('<html>', w)).toBeUndefined();
    expect(w.result()).toEqual(['instance/spot/termination-time: not an ISO 8601 time; ignored']);
  });
});

describe('Alibaba instance id check', () => {
  it.each(['<html>hello</html>', 'hello world', 'vm-1'])('drops %j, which is no ECS instance id', (id) => {
    const w = new Warnings();
    expect(normalizeAlibabaInstance({ 'instance-id': id }, w).id).toBeUndefined();
    expect(w.result()).toEqual(['instance-id: not an ECS instance id (i-...); ignored']);
  });
});
