// The Node.js version check that runs before anything else is loaded. Machines often ship an older
// Node.js (Debian's is 20); started on it, nodemeta would fail inside a dependency with a TypeError
// that says nothing about the cause. This module imports nothing, so it runs on any Node.js.

/** The oldest Node.js major nodemeta runs on (package.json `engines`). */
export const MINIMUM_NODE_MAJOR = 24;

/** Why nodemeta cannot run on Node.js `version` (e.g. `v20.20.2`), or undefined when it can. */
export function nodeVersionProblem(version: string): string | undefined {
  const major = Number(/^v?(\d+)\./.exec(version)?.[1]);
  if (Number.isInteger(major) && major >= MINIMUM_NODE_MAJOR) return undefined;
  return `nodemeta needs Node.js ${MINIMUM_NODE_MAJOR} or later (this is ${version})`;
}
