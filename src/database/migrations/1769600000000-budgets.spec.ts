import { describe, expect, it } from '@jest/globals';
import { sqliteMigrationFile } from '../../../test/helpers/sqlite-migrations.js';
import { MIGRATIONS } from '../data-source-options.js';

// On SQLite, adding a column rebuilds the table: users' overrides and runs, with their indexes
// (the partial one included), must come through it.
describe('Budgets1769600000000 on an existing SQLite database', () => {
  const open = sqliteMigrationFile();

  it('keeps users and runs, and adds the budget columns empty', async () => {
    const before = open(MIGRATIONS.filter((migration) => migration.name !== 'Budgets1769600000000'));
    await before.initialize();
    await before.runMigrations({ transaction: 'each' });
    await before.query(`INSERT INTO users (id, role, tier, quota_daily, created_at, last_seen_at) VALUES ('alice', 'user', 'free', 3, 't', 't')`);
    await before.query(
      `INSERT INTO runs (id, user_id, agent, status, prompt, timeout_seconds, metadata, created_at, cancel_requested, last_seq, result)
       VALUES ('run-1', 'alice', 'lines', 'succeeded', 'p', 60, '{}', '2026-01-01T00:00:00.000Z', 0, 1, '{"costUsd":0.5}')`,
    );
    await before.query(`INSERT INTO run_events (run_id, seq, ts, type, data) VALUES ('run-1', 1, 't', 'status', '{}')`);
    await before.destroy();

    const after = open(MIGRATIONS);
    await after.initialize();
    const applied = await after.runMigrations({ transaction: 'each' });
    expect(applied.map((migration) => migration.name)).toEqual(['Budgets1769600000000']);
    expect(await after.query(`SELECT id, tier, quota_daily, quota_daily_budget_usd FROM users`)).toEqual([{ id: 'alice', tier: 'free', quota_daily: 3, quota_daily_budget_usd: null }]);
    expect(await after.query(`SELECT id, result, max_budget_usd FROM runs`)).toEqual([{ id: 'run-1', result: '{"costUsd":0.5}', max_budget_usd: null }]);
    expect(await after.query(`SELECT COUNT(*) AS n FROM run_events`)).toEqual([{ n: 1 }]);
    await after.query(`UPDATE runs SET max_budget_usd = 0.25 WHERE id = 'run-1'`);
    expect(await after.query(`SELECT max_budget_usd FROM runs`)).toEqual([{ max_budget_usd: 0.25 }]);
    const indexes = (await after.query(`SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'runs'`)) as { name: string; sql: string | null }[];
    expect(indexes.map((index) => index.name)).toEqual(expect.arrayContaining(['idx_runs_user_created', 'idx_runs_status_created', 'idx_runs_user_status', 'idx_runs_worktree_pending']));
    expect(indexes.find((index) => index.name === 'idx_runs_worktree_pending')?.sql).toMatch(/WHERE base_commit IS NOT NULL AND worktree_removed_at IS NULL/);

    // Undoing runs with foreign keys on (only runMigrations turns them off): as in the forge migration's test, on a table without runs.
    await after.query(`DELETE FROM runs`);
    await after.undoLastMigration({ transaction: 'each' });
    const columns = (await after.query(`PRAGMA table_info(runs)`)) as { name: string }[];
    expect(columns.map((column) => column.name)).not.toContain('max_budget_usd');
    expect(await after.query(`SELECT id, quota_daily FROM users`)).toEqual([{ id: 'alice', quota_daily: 3 }]);
    await after.destroy();
  });
});
