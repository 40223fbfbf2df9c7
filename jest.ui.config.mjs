import base from './jest.config.mjs';

/**
 * `npm run test:ui`: the dashboard in a real browser (Debian's Chromium through playwright-core)
 * against a real server with fixture agents. Kept out of `npm test`, which needs nothing but Node.
 */
export default {
  ...base,
  roots: ['<rootDir>/test'],
  testMatch: ['<rootDir>/test/ui/**/*.ui-spec.ts'],
  testTimeout: 180_000,
  // One browser and one server at a time: the figures it prints are measured on a quiet machine.
  maxWorkers: 1,
};
