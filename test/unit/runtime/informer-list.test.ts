// Paged lists: every page is read, whether the continue token comes as client-node's typed `_continue`
// or as the raw JSON `continue` of a custom object list.
import { describe, expect, it } from '@jest/globals';
import type { KubernetesListObject, KubernetesObject } from '@kubernetes/client-node';
import { listAll, type ListPage } from '../../../src/runtime/informer.js';

function pagedList(total: number, spelling: '_continue' | 'continue') {
  const requests: ListPage[] = [];
  const list = async (page: ListPage): Promise<KubernetesListObject<KubernetesObject>> => {
    requests.push(page);
    const start = page._continue === undefined ? 0 : Number(page._continue);
    const end = Math.min(total, start + (page.limit ?? total));
    const items = Array.from({ length: end - start }, (_, i) => ({ metadata: { name: `n${start + i}` } }));
    const metadata: Record<string, string> = { resourceVersion: '42' };
    if (end < total) metadata[spelling] = String(end);
    return { metadata, items } as KubernetesListObject<KubernetesObject>;
  };
  return { list, requests };
}

describe('listAll', () => {
  it.each(['_continue', 'continue'] as const)('follows a continue token spelled %s to the last page', async (spelling) => {
    const { list, requests } = pagedList(1_234, spelling);
    const all = await listAll(list, 500, undefined);
    expect(all.items).toHaveLength(1_234);
    expect(all.items.at(-1)?.metadata?.name).toBe('n1233');
    expect(requests.map((page) => page._continue)).toEqual([undefined, '500', '1000']);
    expect(all.metadata?.resourceVersion).toBe('42');
  });

  it('trims each page as it comes', async () => {
    const { list } = pagedList(3, 'continue');
    const all = await listAll(list, 2, (obj) => ({ metadata: { name: `${obj.metadata?.name}!` } }));
    expect(all.items.map((item) => item.metadata?.name)).toEqual(['n0!', 'n1!', 'n2!']);
  });
});
