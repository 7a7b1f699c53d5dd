import { describe, expect, test } from '@jest/globals';
import { rewriteRequested } from '../../golden.js';

describe('rewriting golden expectations (test/golden.ts)', () => {
  test('only when asked with 1', () => {
    expect(rewriteRequested('UPDATE_GOLDEN', {})).toBe(false);
    expect(rewriteRequested('UPDATE_GOLDEN', { UPDATE_GOLDEN: 'yes' })).toBe(false);
    expect(rewriteRequested('UPDATE_GOLDEN', { UPDATE_GOLDEN: '1' })).toBe(true);
    expect(rewriteRequested('UPDATE_GOLDEN', { UPDATE_GOLDEN: '1', CI: 'false' })).toBe(true);
  });

  test('asking under CI fails instead of rewriting', () => {
    expect(() => rewriteRequested('UPDATE_GOLDEN', { UPDATE_GOLDEN: '1', CI: 'true' })).toThrow(/never rewrite their expectations in CI/);
    expect(() => rewriteRequested('UPDATE_CONFIG_DOCS', { UPDATE_CONFIG_DOCS: '1', CI: '1' })).toThrow(/UPDATE_CONFIG_DOCS=1 with CI=1/);
    expect(rewriteRequested('UPDATE_GOLDEN', { CI: 'true' })).toBe(false);
  });
});
