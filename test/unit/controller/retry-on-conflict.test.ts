import { describe, expect, test } from '@jest/globals';
import { WriteConflictError } from '../../../src/controller/cache/cluster-state.js';
import type { NodeState } from '../../../src/controller/cache/node-state.js';
import { retryOnConflict } from '../../../src/controller/write/retry-on-conflict.js';

const node = (version: string): NodeState => ({ metadata: { name: 'n1', resourceVersion: version } });

describe('retryOnConflict', () => {
  test('re-plans from a fresh read after each lost race, and returns what the write returned', async () => {
    const planned: string[] = [];
    let reads = 0;
    const result = await retryOnConflict(
      node('1'),
      'taints',
      async (from) => {
        planned.push(from.metadata.resourceVersion!);
        if (planned.length < 3) throw new WriteConflictError('test failed');
        return `written from ${from.metadata.resourceVersion}`;
      },
      { retries: 3, reread: async () => node(String(2 + reads++)) },
    );
    expect(planned).toEqual(['1', '2', '3']);
    expect(result).toBe('written from 3');
  });

  test('past its bound the conflict is thrown (the work queue backs off)', async () => {
    let writes = 0;
    const lose = async (): Promise<never> => {
      writes++;
      throw new WriteConflictError('test failed');
    };
    await expect(retryOnConflict(node('1'), 'labels', lose, { retries: 2, reread: async () => node('2') })).rejects.toBeInstanceOf(WriteConflictError);
    expect(writes).toBe(3);
  });

  test('any other error is thrown at once, without a re-read', async () => {
    let reads = 0;
    const fail = async (): Promise<never> => {
      throw new Error('403 Forbidden');
    };
    await expect(retryOnConflict(node('1'), 'cordon', fail, { retries: 3, reread: async () => (reads++, node('2')) })).rejects.toThrow('403 Forbidden');
    expect(reads).toBe(0);
  });

  test('a node gone at the re-read ends it: undefined', async () => {
    const lose = async (): Promise<never> => {
      throw new WriteConflictError('test failed');
    };
    expect(await retryOnConflict(node('1'), 'labels', lose, { retries: 3, reread: async () => undefined })).toBeUndefined();
  });
});
