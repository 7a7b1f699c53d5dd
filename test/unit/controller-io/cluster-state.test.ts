import { describe, expect, it } from '@jest/globals';
import type { V1Node } from '@kubernetes/client-node';
import { nodeStateOf } from '../../../src/controller/cluster-state.js';
import { ReadYourWrites } from '../../../src/controller/read-your-writes.js';

describe('nodeStateOf', () => {
  it('turns a listed node (client-node Dates) into the JSON the API server stores, so a taint `test` matches', () => {
    const listed: V1Node = {
      metadata: { name: 'n1', uid: 'u', resourceVersion: '7', labels: { a: 'b' }, managedFields: [{ manager: 'm', operation: 'Apply', fieldsV1: { 'f:metadata': {} } }] },
      spec: { taints: [{ key: 'node.kubernetes.io/unreachable', effect: 'NoExecute', timeAdded: new Date('2026-11-22T04:00:05.000Z') }, { key: 'x', value: 'y', effect: 'NoSchedule' }], unschedulable: true },
    };
    expect(nodeStateOf(listed)).toEqual({
      metadata: { name: 'n1', uid: 'u', resourceVersion: '7', labels: { a: 'b' }, managedFields: [{ manager: 'm', operation: 'Apply', fieldsV1: { 'f:metadata': {} } }] },
      spec: { taints: [{ key: 'node.kubernetes.io/unreachable', effect: 'NoExecute', timeAdded: '2026-11-22T04:00:05Z' }, { key: 'x', value: 'y', effect: 'NoSchedule' }], unschedulable: true },
    });
  });

  it('keeps a watched node\'s timestamps as they are', () => {
    const watched = { metadata: { name: 'n1' }, spec: { taints: [{ key: 'k', effect: 'NoExecute', timeAdded: '2026-11-22T04:00:05Z' }] } } as unknown as V1Node;
    expect(nodeStateOf(watched).spec?.taints?.[0]?.timeAdded).toBe('2026-11-22T04:00:05Z');
  });
});

describe('ReadYourWrites', () => {
  const v = (rv: string, value: string) => ({ metadata: { resourceVersion: rv }, value });

  it('answers with the written object while the cache shows a version it replaced, then with the cache again', () => {
    const ryw = new ReadYourWrites<ReturnType<typeof v>>();
    ryw.wrote('n', v('1', 'old'), v('2', 'ours'));
    ryw.wrote('n', v('2', 'ours'), v('3', 'ours again'));
    expect(ryw.read('n', v('1', 'old'))?.value).toBe('ours again');
    expect(ryw.read('n', v('2', 'ours'))?.value).toBe('ours again');
    expect(ryw.read('n', v('3', 'ours again'))?.value).toBe('ours again');
    // Forgotten once the cache caught up: an old version seen later (a relist) is the cache's call.
    expect(ryw.read('n', v('1', 'old'))?.value).toBe('old');
  });

  it('trusts a newer version by someone else, and a deletion', () => {
    const ryw = new ReadYourWrites<ReturnType<typeof v>>();
    ryw.wrote('n', v('1', 'old'), v('2', 'ours'));
    expect(ryw.read('n', v('5', 'theirs'))?.value).toBe('theirs');
    ryw.wrote('n', v('5', 'theirs'), v('6', 'ours'));
    expect(ryw.read('n', undefined)).toBeUndefined();
    expect(ryw.read('n', v('5', 'theirs'))?.value).toBe('theirs');
  });
});
