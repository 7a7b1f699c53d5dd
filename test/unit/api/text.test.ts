import { describe, expect, it } from '@jest/globals';
import { flattenControlCharacters, hasControlCharacters, maskControlCharacters } from '../../../src/api/text.js';

describe('control characters (one definition for the agent and the controller)', () => {
  it('finds C0 controls and DEL, and nothing else', () => {
    expect(hasControlCharacters('team\u0000x')).toBe(true);
    expect(hasControlCharacters('a\u007fb')).toBe(true);
    expect(hasControlCharacters('line\nbreak')).toBe(true);
    expect(hasControlCharacters('Zürich – 東京 ✓')).toBe(false);
  });

  it('flattens each run to one space for a log line, and masks each one with ? in a quoted name', () => {
    expect(flattenControlCharacters('\tHost update\r\n\u0000done\u007f')).toBe('Host update done');
    expect(maskControlCharacters('a\u0000\u0001b')).toBe('a??b');
  });
});
