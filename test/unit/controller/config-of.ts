// The controller configuration a test writes as YAML, parsed as the controller parses its file; a
// YAML the schema refuses fails the test at once with the schema's own errors.
import { parseConfig, type ControllerConfig } from '../../../src/controller/config/config.js';

export function configOf(yaml = ''): ControllerConfig {
  const result = parseConfig(yaml);
  if (!result.ok) throw new Error(result.errors.join('; '));
  return result.config;
}
