import { describe, expect, test } from '@jest/globals';
import { findCondition, observationOf, setCondition, type Condition } from '../../../src/api/nodemetadata.js';

const T0 = '2026-11-22T03:00:00.000Z';
const T1 = new Date('2026-11-22T04:00:00.000Z');

const labeled: Condition = { type: 'Labeled', status: 'True', reason: 'Applied', message: '8 labels', lastTransitionTime: T0, observedGeneration: 1 };
const drained: Condition = { type: 'Drained', status: 'False', reason: 'NoMaintenance', message: '', lastTransitionTime: T0 };

describe('setCondition', () => {
  test('adds a new condition with the current time', () => {
    const result = setCondition([drained], { type: 'Labeled', status: 'True', reason: 'Applied', message: '' }, T1);
    expect(result).toEqual([drained, { type: 'Labeled', status: 'True', reason: 'Applied', message: '', lastTransitionTime: T1.toISOString() }]);
  });

  test('keeps lastTransitionTime when only reason or message change', () => {
    const result = setCondition([labeled, drained], { type: 'Labeled', status: 'True', reason: 'Applied', message: '9 labels', observedGeneration: 2 }, T1);
    expect(findCondition(result, 'Labeled')).toEqual({ ...labeled, message: '9 labels', observedGeneration: 2 });
    expect(result[1]).toBe(drained);
  });

  test('moves lastTransitionTime when the status changes', () => {
    const result = setCondition([labeled], { type: 'Labeled', status: 'False', reason: 'InvalidValues', message: 'tag x' }, T1);
    expect(findCondition(result, 'Labeled')).toEqual({ type: 'Labeled', status: 'False', reason: 'InvalidValues', message: 'tag x', lastTransitionTime: T1.toISOString() });
  });

  test('returns the same list when nothing changed, so callers can skip the write', () => {
    const conditions = [labeled, drained];
    const { lastTransitionTime: _ignored, ...same } = labeled;
    expect(setCondition(conditions, same, T1)).toBe(conditions);
  });

  test('does not mutate its input', () => {
    const conditions = [labeled];
    setCondition(conditions, { type: 'Labeled', status: 'False', reason: 'X', message: '' }, T1);
    expect(conditions).toEqual([labeled]);
  });

  test('works on an absent list', () => {
    expect(setCondition(undefined, { type: 'Drained', status: 'Unknown', reason: 'Waiting', message: '' }, T0)).toHaveLength(1);
    expect(findCondition(undefined, 'Drained')).toBeUndefined();
  });
});

describe('observationOf', () => {
  test('is undefined until the agent has reported', () => {
    expect(observationOf(undefined)).toBeUndefined();
    expect(observationOf({ maintenance: { phase: 'None' } })).toBeUndefined();
  });

  test('reads the agent part of the status with empty defaults', () => {
    expect(observationOf({ provider: 'alibaba', observedTime: T0, instance: { zone: 'cn-hangzhou-h' } })).toEqual({
      provider: 'alibaba',
      observedTime: T0,
      instance: { zone: 'cn-hangzhou-h' },
      tags: undefined,
      events: [],
      spot: undefined,
    });
  });
});
