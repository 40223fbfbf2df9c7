import { describe, expect, it } from '@jest/globals';
import { sqliteMigrationFile } from '../../../test/helpers/sqlite-migrations.js';
import { InitialSchema1764000000000 } from './1764000000000-initial-schema.js';
import { Workspaces1765000000000 } from './1765000000000-workspaces.js';

// On SQLite, adding columns rebuilds the table (copy, drop, rename). A database made by the
// first release, with runs and events in it, must come through with nothing lost.
describe('Workspaces1765000000000 on an existing SQLite database', () => {
  /** The application's own options, or with only the migrations of an earlier release. */
  const open = sqliteMigrationFile();

  it('keeps runs, their events, indexes and foreign keys, and adds the new columns and table', async () => {
    const before = open([InitialSchema1764000000000]);
    await before.initialize();
    await before.runMigrations({ transaction: 'each' });
    await before.query(`INSERT INTO users (id, role, created_at, last_seen_at) VALUES ('alice', 'user', 't', 't')`);
    await before.query(
      `INSERT INTO runs (id, user_id, agent, status, prompt, timeout_seconds, metadata, created_at, cancel_requested, last_seq)
       VALUES ('run-1', 'alice', 'lines', 'succeeded', 'p', 60, '{}', '2026-01-01T00:00:00.000Z', 0, 2)`,
    );
    await before.query(`INSERT INTO run_events (run_id, seq, ts, type, data) VALUES ('run-1', 1, 't', 'status', '{}'), ('run-1', 2, 't', 'status', '{}')`);
    await before.destroy();

    const after = open([InitialSchema1764000000000, Workspaces1765000000000]);
    await after.initialize();
    const applied = await after.runMigrations({ transaction: 'each' });
    expect(applied.map((migration) => migration.name)).toEqual(['Workspaces1765000000000']);

    expect(await after.query(`SELECT id, base_commit, diff, worktree_removed_at FROM runs`)).toEqual([{ id: 'run-1', base_commit: null, diff: null, worktree_removed_at: null }]);
    expect(await after.query(`SELECT COUNT(*) AS n FROM run_events`)).toEqual([{ n: 2 }]);
    const indexes = (await after.query(`SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name IN ('runs', 'workspaces')`)).map((row: { name: string }) => row.name);
    expect(indexes).toEqual(
      expect.arrayContaining(['idx_runs_user_created', 'idx_runs_status_created', 'idx_runs_user_status', 'idx_runs_worktree_pending', 'uq_workspaces_user_name']),
    );
    expect(await after.query(`PRAGMA foreign_key_list(runs)`)).toEqual([expect.objectContaining({ table: 'users', from: 'user_id' })]);
    // Events still follow their run.
    await after.query(`DELETE FROM runs WHERE id = 'run-1'`);
    expect(await after.query(`SELECT COUNT(*) AS n FROM run_events`)).toEqual([{ n: 0 }]);

    await after.query(`INSERT INTO workspaces (id, user_id, name, created_at) VALUES ('w1', 'alice', 'repo', 't')`);
    await expect(after.query(`INSERT INTO workspaces (id, user_id, name, created_at) VALUES ('w2', 'alice', 'repo', 't')`)).rejects.toThrow(/UNIQUE/);

    await after.undoLastMigration({ transaction: 'each' });
    expect((await after.query(`SELECT name FROM sqlite_master WHERE name = 'workspaces'`)).length).toBe(0);
    await after.destroy();
  });
});
