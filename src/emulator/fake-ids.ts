// Stable fake identifiers derived from a VM's name, so the same scenario always yields the same
// vmId, instance id, MAC address... (tests can compare runs).

import { createHash } from 'node:crypto';

export function hexFrom(seed: string, length: number): string {
  let out = '';
  for (let round = 0; out.length < length; round++) {
    out += createHash('sha256').update(`${round}:${seed}`).digest('hex');
  }
  return out.slice(0, length);
}

/** A version-4-shaped GUID. */
export function guidFrom(seed: string): string {
  const h = hexFrom(seed, 32);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

/** Lower-case letters and digits, like Alibaba resource id suffixes. */
export function alnumFrom(seed: string, length: number): string {
  const alphabet = '0123456789abcdefghijklmnopqrstuvwxyz';
  const h = hexFrom(seed, length * 2);
  let out = '';
  for (let i = 0; i < length; i++) out += alphabet[parseInt(h.slice(i * 2, i * 2 + 2), 16) % alphabet.length];
  return out;
}
