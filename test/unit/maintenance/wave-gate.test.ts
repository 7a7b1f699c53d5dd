// The wave gate: evictions wait while any node waits for its taint and cordon and for the settle
// time after the last one, at most the bound.
import { describe, expect, it } from '@jest/globals';
import { WaveGate } from '../../../src/controller/maintenance/wave-gate.js';
import { FakeClock } from '../runtime/fake-clock.js';

describe('WaveGate', () => {
  it('is open when no node ever needed protection', () => {
    const gate = new WaveGate({ clock: new FakeClock(0), settleMs: () => 2_000 });
    expect(gate.holdMs('a')).toBeUndefined();
  });

  it('holds while a node waits for protection, then for the settle time after the last one', () => {
    const clock = new FakeClock(0);
    const gate = new WaveGate({ clock, settleMs: () => 2_000 });
    gate.protecting('b');
    gate.protecting('c');
    expect(gate.holdMs('a')).toBe(2_000);
    clock.advance(500);
    gate.protectedNode('b');
    expect(gate.holdMs('a')).toBeGreaterThan(0);
    clock.advance(500);
    gate.protectedNode('c');
    clock.advance(1_999);
    expect(gate.holdMs('a')).toBe(1);
    clock.advance(1);
    expect(gate.holdMs('a')).toBeUndefined();
  });

  it('a node that arrives during the settle time starts it again', () => {
    const clock = new FakeClock(0);
    const gate = new WaveGate({ clock, settleMs: () => 2_000 });
    gate.protecting('b');
    gate.protectedNode('b');
    clock.advance(1_500);
    gate.protecting('c');
    gate.protectedNode('c');
    clock.advance(1_500);
    expect(gate.holdMs('a')).toBe(500);
  });

  it('never holds a node longer than the bound, even while the wave keeps growing', () => {
    const clock = new FakeClock(0);
    const gate = new WaveGate({ clock, settleMs: () => 2_000, maxHoldMs: 5_000 });
    gate.protecting('b');
    expect(gate.holdMs('a')).toBe(2_000);
    clock.advance(4_000);
    expect(gate.holdMs('a')).toBe(1_000);
    clock.advance(1_000);
    expect(gate.holdMs('a')).toBeUndefined();
  });

  it('with a settle time of 0 it holds only while nodes wait', () => {
    const clock = new FakeClock(0);
    const gate = new WaveGate({ clock, settleMs: () => 0 });
    gate.protecting('b');
    expect(gate.holdMs('a')).toBeGreaterThan(0);
    gate.protectedNode('b');
    expect(gate.holdMs('a')).toBeUndefined();
  });
});
