import { describe, expect, it } from '@jest/globals';
import type { V1Pod } from '@kubernetes/client-node';
import { DrainPods, type PodSource, type PodWatchEventType } from '../../../src/controller/cache/drain-pods.js';
import type { DrainPod } from '../../../src/controller/maintenance/drain-plan.js';
import type { ListPage } from '../../../src/runtime/informer.js';
import { silentLogger } from '../../../src/observability/logger.js';
import { FakeClock } from '../runtime/fake-clock.js';

type ListAnswer = { items: V1Pod[]; metadata: { resourceVersion: string; continue?: string } };

interface PendingList {
  nodeName: string;
  page: ListPage;
  resolve: (answer: ListAnswer) => void;
  reject: (error: unknown) => void;
}

interface OpenWatch {
  resourceVersion: string;
  emit: (type: PodWatchEventType, object: V1Pod) => void;
  end: (error?: unknown) => void;
  closed: boolean;
}

/** Lists answer when the test says so; watches are recorded and driven by the test. */
class FakePodSource implements PodSource {
  readonly lists: PendingList[] = [];
  readonly watches: OpenWatch[] = [];

  list(nodeName: string, page: ListPage): Promise<ListAnswer> {
    return new Promise((resolve, reject) => this.lists.push({ nodeName, page, resolve, reject }));
  }

  async watch(resourceVersion: string, onEvent: (type: PodWatchEventType, object: V1Pod) => void, onDone: (error: unknown) => void): Promise<() => void> {
    const watch: OpenWatch = { resourceVersion, emit: onEvent, end: (error) => onDone(error), closed: false };
    this.watches.push(watch);
    return () => {
      watch.closed = true;
    };
  }

  /** Answers the oldest pending list of `nodeName`. */
  answer(nodeName: string, resourceVersion: string, pods: V1Pod[]): void {
    const index = this.lists.findIndex((list) => list.nodeName === nodeName);
    if (index < 0) throw new Error(`no list pending for ${nodeName} (pending: ${this.lists.map((list) => list.nodeName).join(', ')})`);
    const [list] = this.lists.splice(index, 1);
    list!.resolve({ items: pods, metadata: { resourceVersion } });
  }

  fail(nodeName: string, error: unknown): void {
    const index = this.lists.findIndex((list) => list.nodeName === nodeName);
    const [list] = this.lists.splice(index, 1);
    list!.reject(error);
  }

  openWatches(): OpenWatch[] {
    return this.watches.filter((watch) => !watch.closed);
  }
}

function pod(name: string, nodeName: string, resourceVersion: string, extra: { deleting?: boolean } = {}): V1Pod {
  return {
    metadata: { name, namespace: 'default', uid: `uid-${name}`, resourceVersion, ...(extra.deleting ? { deletionTimestamp: new Date('2026-12-01T10:00:00Z') } : {}) },
    spec: { nodeName, containers: [] },
  };
}

async function settle(): Promise<void> {
  for (let i = 0; i < 10; i++) await new Promise((resolve) => setImmediate(resolve));
}

function setup() {
  const source = new FakePodSource();
  const clock = new FakeClock();
  const changes: string[] = [];
  const errors: unknown[] = [];
  const drainPods = new DrainPods({ source, clock, logger: silentLogger(), onChange: (name) => changes.push(name), onError: (error) => errors.push(error), random: () => 0.5 });
  return { source, clock, changes, errors, drainPods };
}

const names = (pods: { name: string }[] | undefined) => pods?.map((p) => p.name).sort();

/** Starts tracking `node` and answers its list at `resourceVersion` with `pods`. */
async function listed(source: FakePodSource, drainPods: DrainPods, node: string, resourceVersion: string, pods: V1Pod[]): Promise<void> {
  drainPods.podsOn(node);
  await settle();
  source.answer(node, resourceVersion, pods);
  await settle();
}

describe('DrainPods: the pods of draining nodes from per-node lists and one shared watch', () => {
  it('knows no pods (undefined, never "none") until the node is listed, then says the node changed', async () => {
    const { source, changes, drainPods } = setup();
    expect(drainPods.podsOn('n1')).toBeUndefined();
    await settle();
    expect(source.lists.map((list) => [list.nodeName, list.page.limit])).toEqual([['n1', 500]]);
    expect(drainPods.podsOn('n1')).toBeUndefined(); // asking again does not list twice
    expect(source.lists).toHaveLength(1);
    source.answer('n1', '100', [pod('a', 'n1', '90'), pod('b', 'n1', '95')]);
    await settle();
    expect(names(drainPods.podsOn('n1'))).toEqual(['a', 'b']);
    expect(changes).toEqual(['n1']);
    expect(drainPods.count()).toBe(1);
  });

  it('opens one watch for every node, from the first list\'s version; the other lists start only after it', async () => {
    const { source, drainPods } = setup();
    drainPods.podsOn('n1');
    drainPods.podsOn('n2');
    drainPods.podsOn('n3');
    await settle();
    // n2 and n3 wait: a list that started before the watch's version could miss changes.
    expect(source.lists.map((list) => list.nodeName)).toEqual(['n1']);
    source.answer('n1', '100', []);
    await settle();
    expect(source.watches.map((watch) => watch.resourceVersion)).toEqual(['100']);
    expect(source.lists.map((list) => list.nodeName).sort()).toEqual(['n2', 'n3']);
    source.answer('n2', '105', [pod('b', 'n2', '104')]);
    source.answer('n3', '106', []);
    await settle();
    expect(source.watches).toHaveLength(1);
    expect(names(drainPods.podsOn('n2'))).toEqual(['b']);
    expect(drainPods.podsOn('n3')).toEqual([]);
  });

  it('applies the watch\'s events to tracked nodes only, and tells which node changed', async () => {
    const { source, changes, drainPods } = setup();
    await listed(source, drainPods, 'n1', '100', [pod('a', 'n1', '90')]);
    changes.length = 0;
    const [watch] = source.watches;
    watch!.emit('ADDED', pod('ds', 'n1', '101'));
    watch!.emit('ADDED', pod('elsewhere', 'n9', '102'));
    watch!.emit('MODIFIED', pod('a', 'n1', '103', { deleting: true }));
    expect(names(drainPods.podsOn('n1'))).toEqual(['a', 'ds']);
    expect(drainPods.podsOn('n1')!.find((p) => p.name === 'a')!.deletionTimestamp).toBe('2026-12-01T10:00:00Z');
    watch!.emit('DELETED', pod('a', 'n1', '104', { deleting: true }));
    expect(names(drainPods.podsOn('n1'))).toEqual(['ds']);
    expect(changes).toEqual(['n1', 'n1', 'n1']);
    expect(drainPods.podsOn('n9')).toBeUndefined(); // now tracked, but only from its own list
  });

  it('holds the events that arrive while a node is listed, and applies only those newer than the list', async () => {
    const { source, drainPods } = setup();
    await listed(source, drainPods, 'n1', '100', []);
    drainPods.podsOn('n2');
    await settle();
    const [watch] = source.watches;
    // The list of n2 is served at 110; the watch is behind it and ahead of it at once.
    watch!.emit('ADDED', pod('old', 'n2', '105')); // already in the list below
    watch!.emit('DELETED', pod('gone', 'n2', '108')); // the list below no longer has it
    watch!.emit('ADDED', pod('new', 'n2', '112')); // after the list: must not be lost
    source.answer('n2', '110', [pod('old', 'n2', '105'), pod('kept', 'n2', '50')]);
    await settle();
    expect(names(drainPods.podsOn('n2'))).toEqual(['kept', 'new', 'old']);
    // A late event from before the list changes nothing.
    watch!.emit('ADDED', pod('gone', 'n2', '107'));
    expect(names(drainPods.podsOn('n2'))).toEqual(['kept', 'new', 'old']);
  });

  it('closes the watch with the last released node, and starts over on the next drain', async () => {
    const { source, drainPods } = setup();
    drainPods.podsOn('n1');
    drainPods.podsOn('n2');
    await settle();
    source.answer('n1', '100', []);
    await settle();
    source.answer('n2', '101', []);
    await settle();
    drainPods.release('n1');
    expect(drainPods.watching()).toBe(true);
    drainPods.release('n2');
    expect(drainPods.watching()).toBe(false);
    expect(source.openWatches()).toHaveLength(0);
    expect(drainPods.count()).toBe(0);
    await listed(source, drainPods, 'n3', '300', []);
    expect(source.openWatches().map((watch) => watch.resourceVersion)).toEqual(['300']);
  });

  it('a list that comes back for a released node changes nothing and opens no watch', async () => {
    const { source, changes, drainPods } = setup();
    drainPods.podsOn('n1');
    await settle();
    drainPods.release('n1');
    source.answer('n1', '100', [pod('a', 'n1', '90')]);
    await settle();
    expect(source.watches).toHaveLength(0);
    expect(changes).toEqual([]);
    expect(drainPods.count()).toBe(0);
    drainPods.podsOn('n1');
    await settle();
    expect(source.lists.map((list) => list.nodeName)).toEqual(['n1']);
  });

  it('410 Gone: every node\'s pods are unknown again, every node is listed again, and a new watch starts from the new list', async () => {
    const { source, drainPods } = setup();
    drainPods.podsOn('n1');
    drainPods.podsOn('n2');
    await settle();
    source.answer('n1', '100', [pod('a', 'n1', '90')]);
    await settle();
    source.answer('n2', '101', [pod('b', 'n2', '91')]);
    await settle();
    const [first] = source.watches;
    first!.emit('ERROR', { metadata: {}, code: 410, reason: 'Expired' } as unknown as V1Pod);
    first!.end({ statusCode: 410 });
    await settle();
    expect(first!.closed).toBe(true);
    expect(drainPods.podsOn('n1')).toBeUndefined();
    expect(drainPods.podsOn('n2')).toBeUndefined();
    expect(source.lists.map((list) => list.nodeName)).toHaveLength(1);
    const firstList = source.lists[0]!.nodeName;
    const other = firstList === 'n1' ? 'n2' : 'n1';
    source.answer(firstList, '500', []);
    await settle();
    expect(source.watches.map((watch) => watch.resourceVersion)).toEqual(['100', '500']);
    source.answer(other, '501', [pod('c', other, '499')]);
    await settle();
    expect(drainPods.podsOn(firstList)).toEqual([]);
    expect(names(drainPods.podsOn(other))).toEqual(['c']);
  });

  it('reopens a watch that ended from the last version it saw: at once after a clean end, after a backoff after an error', async () => {
    const { source, clock, errors, drainPods } = setup();
    await listed(source, drainPods, 'n1', '100', []);
    source.watches[0]!.emit('BOOKMARK', { metadata: { resourceVersion: '150' } } as V1Pod);
    source.watches[0]!.end(undefined);
    await settle();
    expect(source.watches.map((watch) => watch.resourceVersion)).toEqual(['100', '150']);
    source.watches[1]!.emit('ADDED', pod('x', 'n1', '160'));
    source.watches[1]!.end(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }));
    await settle();
    expect(source.watches).toHaveLength(2); // waiting out the backoff
    expect(errors).toHaveLength(1);
    clock.advance(250); // full jitter, random 0.5 of 500 ms
    await settle();
    expect(source.watches.map((watch) => watch.resourceVersion)).toEqual(['100', '150', '160']);
    expect(names(drainPods.podsOn('n1'))).toEqual(['x']); // the pods stayed known throughout
  });

  it('retries a failed list after a backoff, and the pods stay unknown meanwhile', async () => {
    const { source, clock, errors, drainPods } = setup();
    drainPods.podsOn('n1');
    await settle();
    source.fail('n1', new Error('503 Service Unavailable'));
    await settle();
    expect(errors).toHaveLength(1);
    expect(drainPods.podsOn('n1')).toBeUndefined();
    expect(source.lists).toHaveLength(0);
    expect(source.watches).toHaveLength(0);
    clock.advance(250);
    await settle();
    expect(source.lists.map((list) => list.nodeName)).toEqual(['n1']);
    source.answer('n1', '200', [pod('a', 'n1', '10')]);
    await settle();
    expect(names(drainPods.podsOn('n1'))).toEqual(['a']);
    expect(source.watches.map((watch) => watch.resourceVersion)).toEqual(['200']);
  });

  it('follows a list\'s continue token to the last page, and takes that page\'s version', async () => {
    const source = new FakePodSource();
    const pages: ListAnswer[] = [
      { items: [pod('a', 'n1', '1')], metadata: { resourceVersion: '100', continue: 'next' } },
      { items: [pod('b', 'n1', '2')], metadata: { resourceVersion: '100' } },
    ];
    const seen: ListPage[] = [];
    source.list = async (_nodeName, page) => {
      seen.push(page);
      return pages.shift()!;
    };
    const drainPods = new DrainPods({ source, clock: new FakeClock(), logger: silentLogger(), onChange: () => undefined });
    drainPods.podsOn('n1');
    await settle();
    expect(seen).toEqual([{ limit: 500 }, { limit: 500, _continue: 'next' }]);
    expect(names(drainPods.podsOn('n1'))).toEqual(['a', 'b']);
    expect(source.watches.map((watch) => watch.resourceVersion)).toEqual(['100']);
  });

  it('stop closes the watch and tracks nothing more', async () => {
    const { source, drainPods } = setup();
    await listed(source, drainPods, 'n1', '100', []);
    await drainPods.stop();
    expect(source.openWatches()).toHaveLength(0);
    expect(drainPods.podsOn('n2')).toBeUndefined();
    await settle();
    expect(source.lists).toHaveLength(0);
  });
});

describe('DrainPods with drain readiness on: the index serves the drain, no second pod watch', () => {
  /** `index.pods` is what readiness's index holds; undefined while it is off or not listed yet. */
  function setupWithIndex() {
    const source = new FakePodSource();
    const changes: string[] = [];
    const index: { pods: Map<string, DrainPod[]> | undefined } = { pods: undefined };
    const drainPods = new DrainPods({ source, clock: new FakeClock(), logger: silentLogger(), onChange: (name) => changes.push(name), random: () => 0.5, fromIndex: (name) => (index.pods === undefined ? undefined : (index.pods.get(name) ?? [])) });
    return { source, changes, index, drainPods };
  }
  const drainPod = (name: string): DrainPod => ({ namespace: 'default', name, uid: `uid-${name}`, ownerKinds: ['ReplicaSet'] });

  it('reads a listed index: no list, no watch, the node counted as tracked until released', async () => {
    const { source, index, drainPods } = setupWithIndex();
    index.pods = new Map([['n1', [drainPod('a'), drainPod('b')]]]);
    expect(names(drainPods.podsOn('n1'))).toEqual(['a', 'b']);
    expect(drainPods.podsOn('n2')).toEqual([]); // listed: "none", not unknown
    await settle();
    expect(source.lists).toHaveLength(0);
    expect(source.watches).toHaveLength(0);
    expect(drainPods.count()).toBe(2);
    drainPods.release('n1');
    drainPods.release('n2');
    expect(drainPods.count()).toBe(0);
  });

  it('lists and watches on its own until the index has listed, then hands the node over and closes its watch', async () => {
    const { source, index, drainPods } = setupWithIndex();
    await listed(source, drainPods, 'n1', '100', [pod('a', 'n1', '90')]);
    expect(names(drainPods.podsOn('n1'))).toEqual(['a']);
    expect(source.openWatches()).toHaveLength(1);
    index.pods = new Map([['n1', [drainPod('a'), drainPod('c')]]]);
    expect(names(drainPods.podsOn('n1'))).toEqual(['a', 'c']);
    expect(source.openWatches()).toHaveLength(0);
    expect(drainPods.count()).toBe(1);
  });

  it('readiness turned off: the node is listed again on its own (unknown until then), and watched', async () => {
    const { source, index, drainPods } = setupWithIndex();
    index.pods = new Map([['n1', [drainPod('a')]]]);
    expect(names(drainPods.podsOn('n1'))).toEqual(['a']);
    index.pods = undefined;
    expect(drainPods.podsOn('n1')).toBeUndefined();
    await settle();
    source.answer('n1', '200', [pod('a', 'n1', '150')]);
    await settle();
    expect(names(drainPods.podsOn('n1'))).toEqual(['a']);
    expect(source.openWatches().map((watch) => watch.resourceVersion)).toEqual(['200']);
    expect(drainPods.count()).toBe(1);
  });
});
