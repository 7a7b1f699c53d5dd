// The controller configuration a test writes as YAML, parsed as the controller parses its file; a
// YAML the schema refuses fails the test at once with the schema's own errors.
//
// drain.loadBalancerDrainDelay is 0 unless the YAML sets it: the load balancers' wait before the
// first eviction has tests of its own (test/unit/maintenance/load-balancer-drain.test.ts), and the
// other tests keep the drain's timings they were written for. configOf's callers that test the
// defaults themselves use parseConfig.
import { parse, stringify } from 'yaml';
import { parseConfig, type ControllerConfig } from '../../../src/controller/config/config.js';

export function configOf(yaml = ''): ControllerConfig {
  const result = parseConfig(withoutLoadBalancerDrainDelay(yaml));
  if (!result.ok) throw new Error(result.errors.join('; '));
  return result.config;
}

/** `yaml` with drain.loadBalancerDrainDelay 0 when it does not set it (as it is when it cannot be read: the schema says why). */
function withoutLoadBalancerDrainDelay(yaml: string): string {
  let document: unknown;
  try {
    document = parse(yaml) ?? {};
  } catch {
    return yaml;
  }
  if (typeof document !== 'object' || document === null || Array.isArray(document)) return yaml;
  const drain = (document as { drain?: unknown }).drain ?? {};
  if (typeof drain !== 'object' || drain === null || Array.isArray(drain) || 'loadBalancerDrainDelay' in drain) return yaml;
  return stringify({ ...document, drain: { ...drain, loadBalancerDrainDelay: '0s' } });
}
