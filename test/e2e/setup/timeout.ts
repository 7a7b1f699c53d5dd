import { jest } from '@jest/globals';

// End-to-end tests wait for real controllers; a generous per-test limit (waitFor has its own, clearer ones).
jest.setTimeout(180_000);
