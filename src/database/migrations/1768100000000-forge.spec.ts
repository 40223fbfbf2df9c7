import { describe, expect, it } from '@jest/globals';
import { sqliteMigrationFile } from '../../../test/helpers/sqlite-migrations.js';
import { MIGRATIONS } from '../data-source-options.js';

// On SQLite, adding columns rebuilds the table (copy, drop, rename): runs, workspaces, their
// indexes (the partial one included) and foreign keys must come through it.
describe('Forge1768100000000 on an existing SQLite database', () => {
  const open = sqliteMigrationFile();

  it('keeps runs, workspaces and their indexes, and adds the forge, credential and pull request columns', async () => {
    const earlier = MIGRATIONS.filter((migration) => migration.name !== 'Forge1768100000000');
    const before = open(earlier);
    await before.initialize();
    await before.runMigrations({ transaction: 'each' });
    await before.query(`INSERT INTO users (id, role, created_at, last_seen_at) VALUES ('alice', 'user', 't', 't')`);
    await before.query(`INSERT INTO workspaces (id, user_id, name, repo_url, created_at) VALUES ('w1', 'alice', 'repo', 'https://example.com/r.git', 't')`);
    await before.query(
      `INSERT INTO runs (id, user_id, agent, status, prompt, workspace, timeout_seconds, metadata, created_at, cancel_requested, last_seq, base_commit, diff)
       VALUES ('run-1', 'alice', 'lines', 'succeeded', 'p', 'repo', 60, '{}', '2026-01-01T00:00:00.000Z', 0, 1, 'abc', 'diff --git')`,
    );
    await before.query(`INSERT INTO run_events (run_id, seq, ts, type, data) VALUES ('run-1', 1, 't', 'status', '{}')`);
    await before.destroy();

    const after = open(MIGRATIONS);
    await after.initialize();
    const applied = await after.runMigrations({ transaction: 'each' });
    expect(applied.map((migration) => migration.name)).toEqual(['Forge1768100000000']);
    expect(await after.query(`SELECT id, diff, pull_request FROM runs`)).toEqual([{ id: 'run-1', diff: 'diff --git', pull_request: null }]);
    expect(await after.query(`SELECT id, repo_url, forge, credential FROM workspaces`)).toEqual([{ id: 'w1', repo_url: 'https://example.com/r.git', forge: null, credential: null }]);
    expect(await after.query(`SELECT COUNT(*) AS n FROM run_events`)).toEqual([{ n: 1 }]);
    const indexes = (await after.query(`SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name IN ('runs', 'workspaces')`)) as { name: string; sql: string | null }[];
    expect(indexes.map((index) => index.name)).toEqual(
      expect.arrayContaining(['idx_runs_user_created', 'idx_runs_status_created', 'idx_runs_user_status', 'idx_runs_worktree_pending', 'uq_workspaces_user_name', 'idx_workspaces_user_created']),
    );
    expect(indexes.find((index) => index.name === 'idx_runs_worktree_pending')?.sql).toMatch(/WHERE base_commit IS NOT NULL AND worktree_removed_at IS NULL/);
    await expect(after.query(`INSERT INTO workspaces (id, user_id, name, created_at) VALUES ('w2', 'alice', 'repo', 't')`)).rejects.toThrow(/UNIQUE/);
    expect(await after.query(`PRAGMA foreign_key_list(workspaces)`)).toEqual([expect.objectContaining({ table: 'users', from: 'user_id' })]);
    await after.query(`DELETE FROM runs WHERE id = 'run-1'`);
    expect(await after.query(`SELECT COUNT(*) AS n FROM run_events`)).toEqual([{ n: 0 }]);

    await after.undoLastMigration({ transaction: 'each' });
    const columns = (await after.query(`PRAGMA table_info(runs)`)) as { name: string }[];
    expect(columns.map((column) => column.name)).not.toContain('pull_request');
    await after.destroy();
  });
});
