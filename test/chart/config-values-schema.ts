// The chart's values.schema.json holds, under `config`, the controller's configuration schema
// (src/controller/config/config-schema.ts), so `helm install` rejects a bad configuration before it
// reaches the cluster. Helm validates with a standard JSON Schema validator that knows nothing of
// the controller's own formats (duration, percent), so those become the equivalent patterns
// (Go regexp syntax: no look-ahead, hence the separate minLength).
import { CONFIG_SCHEMA, ConfigFormats } from '../../src/controller/config/config-schema.js';

/** Mirrors DURATION in src/controller/config/config.ts: units h, m, s, ms in that order, or a bare 0. */
export const DURATION_PATTERN = '^(0|([0-9]+h)?([0-9]+m)?([0-9]+s)?([0-9]+ms)?)$';
/** Mirrors PERCENT in src/controller/config/config.ts. */
export const PERCENT_PATTERN = '^(100|[1-9][0-9]?)%$';

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

export function configValuesSchema(): Json {
  const convert = (node: Json): Json => {
    if (Array.isArray(node)) return node.map(convert);
    if (node === null || typeof node !== 'object') return node;
    const out: { [key: string]: Json } = {};
    for (const [key, value] of Object.entries(node)) {
      if (key === '$id') continue;
      if (key === 'format' && value === ConfigFormats.duration) {
        out.pattern = DURATION_PATTERN;
        out.minLength = 1;
        continue;
      }
      if (key === 'format' && value === ConfigFormats.percent) {
        out.pattern = PERCENT_PATTERN;
        continue;
      }
      // Helm's validator has no time zone database: the controller checks the name (a rejected file
      // keeps the last good configuration), the chart only that it is a non-empty string.
      if (key === 'format' && value === ConfigFormats.timeZone) {
        out.minLength = 1;
        continue;
      }
      out[key] = convert(value);
    }
    return out;
  };
  const schema = convert(JSON.parse(JSON.stringify(CONFIG_SCHEMA)) as Json) as { [key: string]: Json };
  return {
    description: "The controller's configuration (docs/configuration.md); generated from src/controller/config/config-schema.ts.",
    ...schema,
  };
}
