// Jest runs the TypeScript sources as native ES modules (client-node 2.x is ESM-only).
// ts-jest only transpiles (isolatedModules in tsconfig.json); `make lint` does the full type check.
const transform = {
  '^.+\\.ts$': ['ts-jest', { useESM: true, diagnostics: false }],
};
const common = {
  extensionsToTreatAsEsm: ['.ts'],
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  transform,
  testEnvironment: 'node',
  // .cache/ holds the local clusters: their etcd writes `*.snap` files, which Jest would otherwise
  // take for obsolete snapshots of its own (and fail the run under CI=true).
  modulePathIgnorePatterns: ['<rootDir>/.cache/'],
};

/** @type {import('jest').Config} */
export default {
  // After the usual report, each e2e file's wall time, longest first (none when no e2e file ran).
  reporters: ['default', '<rootDir>/test/e2e/setup/file-times-reporter.js'],
  projects: [
    { ...common, displayName: 'unit', testMatch: ['<rootDir>/test/unit/**/*.test.ts'] },
    { ...common, displayName: 'contract', testMatch: ['<rootDir>/test/contract/**/*.test.ts'] },
    { ...common, displayName: 'conformance', testMatch: ['<rootDir>/test/conformance/**/*.test.ts'] },
    // The Helm chart without a cluster (lint, golden renders, schema, RBAC); needs the pinned helm (make tools).
    { ...common, displayName: 'chart', testMatch: ['<rootDir>/test/chart/**/*.test.ts'], setupFilesAfterEnv: ['<rootDir>/test/chart/timeout.ts'] },
    // End-to-end against the local control plane (docs/cluster.md): the global setup builds the tools if
    // needed and starts the cluster once per run; the teardown always stops a cluster the run started.
    {
      ...common,
      displayName: 'e2e',
      testMatch: ['<rootDir>/test/e2e/**/*.test.ts'],
      globalSetup: '<rootDir>/test/e2e/setup/global-setup.js',
      globalTeardown: '<rootDir>/test/e2e/setup/global-teardown.js',
      // The per-test limit (180 s) is set there: a project's testTimeout is not applied when several run.
      setupFilesAfterEnv: ['<rootDir>/test/e2e/setup/timeout.ts'],
      slowTestThreshold: 60,
    },
  ],
};
