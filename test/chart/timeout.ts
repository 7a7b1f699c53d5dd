import { jest } from '@jest/globals';

// The chart's tests run helm and promtool as child processes; beside the other projects' workers
// (make test runs three, and the lint) one call can take seconds. A project's `testTimeout` in
// jest.config.js is not applied when several projects run together: this file is.
jest.setTimeout(60_000);
