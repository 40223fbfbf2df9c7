import base from './jest.config.mjs';

/** The run lifecycle, daemon, quota, workspace, health, idempotency, control-character, webhook, dashboard-session, fairness, forge, approval, budget, follow-up and Redis-away scenarios again, on PostgreSQL: each test app gets a database of its own. */
export default {
  ...base,
  testMatch: [
    '<rootDir>/test/runs-lifecycle.e2e-spec.ts',
    '<rootDir>/test/daemon.e2e-spec.ts',
    '<rootDir>/test/quota.e2e-spec.ts',
    '<rootDir>/test/workspaces.e2e-spec.ts',
    '<rootDir>/test/health.e2e-spec.ts',
    '<rootDir>/test/idempotency.e2e-spec.ts',
    '<rootDir>/test/control-characters.e2e-spec.ts',
    '<rootDir>/test/webhooks.e2e-spec.ts',
    '<rootDir>/test/fairness.e2e-spec.ts',
    '<rootDir>/test/dashboard.e2e-spec.ts',
    '<rootDir>/test/forge.e2e-spec.ts',
    '<rootDir>/test/approvals.e2e-spec.ts',
    '<rootDir>/test/budgets.e2e-spec.ts',
    '<rootDir>/test/follow-ups.e2e-spec.ts',
    '<rootDir>/test/redis-away.e2e-spec.ts',
    '<rootDir>/test/**/*.services-spec.ts',
  ],
  setupFiles: [...base.setupFiles, '<rootDir>/test/jest/on-postgres.ts'],
};
