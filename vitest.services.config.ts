import { defineConfig } from 'vitest/config';
import base from './vitest.config.js';

// The run lifecycle, daemon, quota and workspace scenarios again, on PostgreSQL: each test app gets a database of its own.
export default defineConfig({
  ...base,
  test: {
    ...base.test,
    include: ['test/runs-lifecycle.e2e-spec.ts', 'test/daemon.e2e-spec.ts', 'test/quota.e2e-spec.ts', 'test/workspaces.e2e-spec.ts', 'test/health.e2e-spec.ts', 'test/**/*.services-spec.ts'],
    env: { AUTOCODE_TEST_DB: 'postgres' },
  },
});
