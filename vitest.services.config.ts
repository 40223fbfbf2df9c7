import { defineConfig, mergeConfig } from 'vitest/config';
import base from './vitest.config.js';

// The run lifecycle scenarios again, on PostgreSQL (each test app gets a database of its own).
export default mergeConfig(
  base,
  defineConfig({
    test: {
      include: ['test/**/*.services-spec.ts', 'test/runs-lifecycle.e2e-spec.ts'],
      env: { AUTOCODE_TEST_DB: 'postgres' },
    },
  }),
);
