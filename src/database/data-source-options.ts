import type { DataSourceOptions } from 'typeorm';
import { Run } from '../runs/entities/run.entity.js';
import { RunEvent } from '../runs/entities/run-event.entity.js';
import { LoginLink, Session } from '../auth/session.entity.js';
import { User } from '../auth/user.entity.js';
import type { AppConfig } from '../config/configuration.js';
import { Workspace } from '../workspace/entities/workspace.entity.js';
import { InitialSchema1764000000000 } from './migrations/1764000000000-initial-schema.js';
import { Workspaces1765000000000 } from './migrations/1765000000000-workspaces.js';
import { IdempotencyKeys1766000000000 } from './migrations/1766000000000-idempotency-keys.js';
import { Webhooks1767000000000 } from './migrations/1767000000000-webhooks.js';
import { Sessions1768000000000 } from './migrations/1768000000000-sessions.js';
import { Forge1768100000000 } from './migrations/1768100000000-forge.js';
import { Nodes1769500000000 } from './migrations/1769500000000-nodes.js';
import { Budgets1769600000000 } from './migrations/1769600000000-budgets.js';
import { RunApprovals1769700000000 } from './migrations/1769700000000-run-approvals.js';
import { FollowUps1770000000000 } from './migrations/1770000000000-follow-ups.js';

export const ENTITIES = [User, Run, RunEvent, Workspace, Session, LoginLink];
export const MIGRATIONS = [
  InitialSchema1764000000000,
  Workspaces1765000000000,
  IdempotencyKeys1766000000000,
  Webhooks1767000000000,
  Sessions1768000000000,
  Forge1768100000000,
  Nodes1769500000000,
  Budgets1769600000000,
  RunApprovals1769700000000,
  FollowUps1770000000000,
];

/** One options factory for the application, the CLI and the tests. `synchronize` is never on. */
export function dataSourceOptions(database: AppConfig['database']): DataSourceOptions {
  const common = {
    entities: ENTITIES,
    migrations: MIGRATIONS,
    migrationsTableName: 'migrations',
    migrationsRun: false,
    synchronize: false,
    logging: false,
  } as const;
  if (database.type === 'postgres') {
    return { ...common, type: 'postgres', url: database.url, extra: { max: 10 } };
  }
  return {
    ...common,
    type: 'better-sqlite3',
    database: database.path,
    enableWAL: true,
    // Busy timeout: wait for another process (the CLI, a second server) instead of failing at once.
    timeout: 5000,
    prepareDatabase: (db: { pragma(source: string): unknown }) => {
      db.pragma('synchronous = NORMAL');
    },
  };
}
