import { describe, expect, test } from '@jest/globals';
import { DEFAULT_CONFIG, drainBudget, parseConfig, parseDuration, type ControllerConfig } from '../../../src/controller/config/config.js';

function parseOk(text: string): ControllerConfig {
  const result = parseConfig(text);
  if (!result.ok) throw new Error(`expected a valid config, got: ${result.errors.join('; ')}`);
  return result.config;
}

function parseErrors(text: string): string[] {
  const result = parseConfig(text);
  if (result.ok) throw new Error('expected the config to be rejected');
  return result.errors;
}

describe('parseDuration', () => {
  test.each<[string, number | undefined]>([
    ['0', 0],
    ['30s', 30_000],
    ['15m', 900_000],
    ['1h30m', 5_400_000],
    ['2h', 7_200_000],
    ['1m30s', 90_000],
    ['500ms', 500],
    ['1h0m5s250ms', 3_605_250],
    ['', undefined],
    ['15', undefined],
    ['15min', undefined],
    ['30m1h', undefined],
    ['-5s', undefined],
    ['1.5h', undefined],
    [' 5s', undefined],
  ])('%j → %j', (text, expected) => {
    expect(parseDuration(text)).toBe(expected);
  });
});

describe('parseConfig: defaults', () => {
  test('an empty document gives the documented defaults', () => {
    const config = parseOk('');
    expect(config).toEqual(DEFAULT_CONFIG);
    expect(config.labels).toEqual({ allowedTags: [], standardTopology: false });
    expect(config.policy.events).toEqual({
      Freeze: { action: 'Taint', leadTimeMs: 3_600_000, atDeadline: 'Wait' },
      Reboot: { action: 'Drain', leadTimeMs: 3_600_000, atDeadline: 'Wait' },
      Redeploy: { action: 'Drain', leadTimeMs: 3_600_000, atDeadline: 'Wait' },
      Unknown: { action: 'Taint', leadTimeMs: 3_600_000, atDeadline: 'Wait' },
      Preempt: { action: 'Drain', leadTimeMs: 0, atDeadline: 'Wait' },
      Terminate: { action: 'Drain', leadTimeMs: 0, atDeadline: 'Wait' },
      SpotTermination: { action: 'Drain', leadTimeMs: 0, atDeadline: 'Wait' },
    });
    expect(config.policy.providers).toEqual({});
    expect(config.drain).toEqual({
      maxConcurrentDrains: { percent: 10 },
      maxGracePeriodMs: 300_000,
      evictionTimeoutMs: 1_800_000,
      waveSettleTimeMs: 2_000,
      deleteEmptyDirData: true,
      forceUnmanagedPods: false,
      excludeFromLoadBalancers: true,
      loadBalancerDrainDelayMs: 60_000,
    });
    expect(config.approve).toBe('AfterDrain');
    expect(config.uncordonAfterCompletion).toBe(true);
  });

  test('a comment-only document and an empty mapping are valid too', () => {
    expect(parseOk('# nothing set\n')).toEqual(DEFAULT_CONFIG);
    expect(parseOk('{}')).toEqual(DEFAULT_CONFIG);
  });

  test('DEFAULT_CONFIG cannot be modified by a caller', () => {
    expect(() => {
      (DEFAULT_CONFIG.labels.allowedTags as string[]).push('x');
    }).toThrow();
  });

  test('setting one field keeps the defaults of its neighbours', () => {
    const config = parseOk('policy:\n  Reboot:\n    leadTime: 2h\n');
    expect(config.policy.events.Reboot).toEqual({ action: 'Drain', leadTimeMs: 7_200_000, atDeadline: 'Wait' });
    expect(config.policy.events.Redeploy).toEqual(DEFAULT_CONFIG.policy.events.Redeploy);
  });
});

describe('parseConfig: a full document', () => {
  test('reads every option', () => {
    const config = parseOk(`
labels:
  allowedTags: [env, "team-*"]
  standardTopology: true
policy:
  Freeze: {action: None}
  Reboot: {action: Cordon, leadTime: 1h30m}
  Preempt: {action: Taint}
  providers:
    alibaba:
      Redeploy: {leadTime: 4h}
      SpotTermination: {action: Cordon}
drain:
  maxConcurrentDrains: 3
  maxGracePeriod: 2m
  evictionTimeout: 45m
  waveSettleTime: 500ms
  deleteEmptyDirData: false
  forceUnmanagedPods: true
  excludeFromLoadBalancers: false
  loadBalancerDrainDelay: 2m30s
approve: Never
uncordonAfterCompletion: false
`);
    expect(config.labels).toEqual({ allowedTags: ['env', 'team-*'], standardTopology: true });
    expect(config.policy.events.Freeze.action).toBe('None');
    expect(config.policy.events.Reboot).toEqual({ action: 'Cordon', leadTimeMs: 5_400_000, atDeadline: 'Wait' });
    expect(config.policy.events.Preempt.action).toBe('Taint');
    expect(config.policy.providers).toEqual({ alibaba: { Redeploy: { leadTimeMs: 14_400_000 }, SpotTermination: { action: 'Cordon' } } });
    expect(config.drain).toEqual({ maxConcurrentDrains: { count: 3 }, maxGracePeriodMs: 120_000, evictionTimeoutMs: 2_700_000, waveSettleTimeMs: 500, deleteEmptyDirData: false, forceUnmanagedPods: true, excludeFromLoadBalancers: false, loadBalancerDrainDelayMs: 150_000 });
    expect(config.approve).toBe('Never');
    expect(config.uncordonAfterCompletion).toBe(false);
  });

  test.each<[string, ControllerConfig['drain']['maxConcurrentDrains']]>([
    ['1', { count: 1 }],
    ['"1%"', { percent: 1 }],
    ['"25%"', { percent: 25 }],
    ['25%', { percent: 25 }],
    ['"100%"', { percent: 100 }],
  ])('maxConcurrentDrains %s', (value, expected) => {
    expect(parseOk(`drain:\n  maxConcurrentDrains: ${value}\n`).drain.maxConcurrentDrains).toEqual(expected);
  });
});

describe('parseConfig: errors name the field', () => {
  test.each<[string, string, string]>([
    ['misspelt action', 'policy:\n  Reboot:\n    action: Drian\n', 'policy.Reboot.action: must be one of Drain, Cordon, Taint, None (got "Drian")'],
    ['unknown top-level key', 'polcy: {}\n', 'polcy: unknown key (expected one of: labels, policy, drain, approve'],
    ['unknown nested key', 'drain:\n  maxConcurentDrains: 2\n', 'drain.maxConcurentDrains: unknown key'],
    ['lead time on an immediate event', 'policy:\n  Preempt:\n    leadTime: 5m\n', 'policy.Preempt.leadTime: unknown key (expected one of: action, atDeadline)'],
    ['unknown event type', 'policy:\n  Maintenance: {action: Drain}\n', 'policy.Maintenance: unknown key'],
    ['unknown provider', 'policy:\n  providers:\n    aws: {}\n', 'policy.providers.aws: unknown key (expected one of: azure, alibaba)'],
    ['bad override action', 'policy:\n  providers:\n    alibaba:\n      Reboot: {action: drain}\n', 'policy.providers.alibaba.Reboot.action: must be one of Drain, Cordon, Taint, None (got "drain")'],
    ['duration without unit', 'drain:\n  maxGracePeriod: 300\n', 'drain.maxGracePeriod: must be a string (got 300)'],
    ['bad duration text', 'policy:\n  Reboot:\n    leadTime: 2 hours\n', 'policy.Reboot.leadTime: must be a duration such as 30s, 15m or 1h30m (got "2 hours")'],
    ['percent above 100', 'drain:\n  maxConcurrentDrains: "150%"\n', 'drain.maxConcurrentDrains: must be a number of nodes or a percentage from 1% to 100%, such as "10%" (got "150%")'],
    ['zero drains', 'drain:\n  maxConcurrentDrains: 0\n', 'drain.maxConcurrentDrains: must be at least 1 (got 0)'],
    ['fractional drains', 'drain:\n  maxConcurrentDrains: 1.5\n', 'drain.maxConcurrentDrains: must be a number of nodes or a percentage from 1% to 100%, such as "10%" (got 1.5)'],
    ['boolean as string', 'uncordonAfterCompletion: "yes"\n', 'uncordonAfterCompletion: must be true or false (got "yes")'],
    ['bad approve', 'approve: Always\n', 'approve: must be one of AfterDrain, Never (got "Always")'],
    ['tag list not a list', 'labels:\n  allowedTags: env\n', 'labels.allowedTags: must be a list (got "env")'],
    ['empty tag pattern', 'labels:\n  allowedTags: [env, ""]\n', 'labels.allowedTags[1]: must not be empty'],
    ['top level not a mapping', '- a\n- b\n', '(top level): must be a mapping (got a list of 2)'],
  ])('%s', (_name, text, expected) => {
    const errors = parseErrors(text);
    expect(errors.some((error) => error.startsWith(expected))).toBe(true);
  });

  test.each<[string, string, string]>([
    ['atDeadline: Delete for Freeze', 'policy:\n  Freeze: {action: Drain, atDeadline: Delete}\n', 'policy.Freeze.atDeadline: Delete is not allowed for Freeze: the VM is only paused for seconds and its pods survive'],
    ['atDeadline: Delete for Freeze in a provider override', 'policy:\n  providers:\n    azure:\n      Freeze: {atDeadline: Delete}\n', 'policy.providers.azure.Freeze.atDeadline: Delete is not allowed for Freeze'],
    ['atDeadline for Unknown', 'policy:\n  Unknown: {atDeadline: Delete}\n', 'policy.Unknown.atDeadline: unknown key'],
    ['atDeadline misspelt', 'policy:\n  Reboot: {atDeadline: delete}\n', 'policy.Reboot.atDeadline: must be one of Wait, Delete (got "delete")'],
  ])('%s is refused', (_name, text, expected) => {
    const errors = parseErrors(text);
    expect(errors).toEqual([expect.stringContaining(expected)]);
  });

  test('atDeadline: Wait for Freeze is allowed; Delete for the VM-ending types, in general and per provider', () => {
    const config = parseOk('policy:\n  Freeze: {atDeadline: Wait}\n  Reboot: {atDeadline: Delete}\n  SpotTermination: {atDeadline: Delete}\n  providers:\n    azure:\n      Preempt: {atDeadline: Delete}\n');
    expect(config.policy.events.Freeze.atDeadline).toBe('Wait');
    expect(config.policy.events.Reboot).toEqual({ action: 'Drain', leadTimeMs: 3_600_000, atDeadline: 'Delete' });
    expect(config.policy.events.SpotTermination.atDeadline).toBe('Delete');
    expect(config.policy.events.Preempt.atDeadline).toBe('Wait');
    expect(config.policy.providers).toEqual({ azure: { Preempt: { atDeadline: 'Delete' } } });
  });

  test('reports every error at once', () => {
    const errors = parseErrors('approve: Always\npolicy:\n  Reboot: {action: Drian}\ndrain:\n  evictionTimeout: soon\n');
    expect(errors).toHaveLength(3);
  });

  test('YAML syntax errors and duplicate keys are reported with their line', () => {
    const [syntax] = parseErrors('policy:\n  Reboot: {action: Drain\n');
    expect(syntax).toMatch(/^YAML: .*line \d+, column \d+/);
    const [duplicate] = parseErrors('approve: Never\napprove: AfterDrain\n');
    expect(duplicate).toMatch(/^YAML: .*unique/i);
  });
});

describe('drainBudget', () => {
  test.each<[ControllerConfig['drain']['maxConcurrentDrains'], number, number]>([
    [{ count: 3 }, 100, 3],
    [{ count: 3 }, 1, 3],
    [{ percent: 10 }, 100, 10],
    [{ percent: 10 }, 15, 2],
    [{ percent: 10 }, 3, 1],
    [{ percent: 10 }, 0, 1],
    [{ percent: 100 }, 7, 7],
  ])('%j of %d nodes → %d', (limit, nodes, expected) => {
    expect(drainBudget(limit, nodes)).toBe(expected);
  });
});
