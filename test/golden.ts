// The golden tests (test/chart, the configuration reference in docs) compare with files in the
// repository and rewrite them only when a developer asks (UPDATE_GOLDEN=1, UPDATE_CONFIG_DOCS=1):
// then they pass by construction. In CI that would turn them into tautologies, so asking there fails.

/** True when `variable` is '1' (rewrite the expectations); throws when CI is set as well. */
export function rewriteRequested(variable: string, env: NodeJS.ProcessEnv = process.env): boolean {
  if (env[variable] !== '1') return false;
  const ci = env.CI;
  if (ci !== undefined && ci !== '' && ci !== 'false' && ci !== '0') {
    throw new Error(`${variable}=1 with CI=${ci}: golden tests never rewrite their expectations in CI; run it locally and commit the diff`);
  }
  return true;
}
