import { describe, expect, it } from '@jest/globals';
import { sqliteMigrationFile } from '../../../test/helpers/sqlite-migrations.js';
import { MIGRATIONS } from '../data-source-options.js';

describe('RunApprovals1769700000000 on an existing SQLite database', () => {
  const open = sqliteMigrationFile();

  it('adds run_approvals, whose rows go with their run, and undoes it', async () => {
    const before = open(MIGRATIONS.filter((migration) => migration.name !== 'RunApprovals1769700000000'));
    await before.initialize();
    await before.runMigrations({ transaction: 'each' });
    await before.query(`INSERT INTO users (id, role, created_at, last_seen_at) VALUES ('alice', 'user', 't', 't')`);
    await before.query(
      `INSERT INTO runs (id, user_id, agent, status, prompt, timeout_seconds, metadata, created_at, cancel_requested, last_seq)
       VALUES ('run-1', 'alice', 'gated', 'running', 'p', 60, '{}', '2026-01-01T00:00:00.000Z', 0, 1)`,
    );
    await before.destroy();

    const after = open(MIGRATIONS);
    await after.initialize();
    const applied = await after.runMigrations({ transaction: 'each' });
    expect(applied.map((migration) => migration.name)).toEqual(['RunApprovals1769700000000']);
    await after.query(`INSERT INTO run_approvals (id, run_id, tool, input, requested_at, expires_at) VALUES ('a1', 'run-1', 'Bash', '{}', 't1', 't2')`);
    expect(await after.query(`SELECT id, decision, decided_by, message FROM run_approvals`)).toEqual([{ id: 'a1', decision: null, decided_by: null, message: null }]);
    await after.query(`INSERT INTO run_events (run_id, seq, ts, type, data) VALUES ('run-1', 2, 't', 'approval_requested', '{}')`);
    await after.query(`DELETE FROM runs WHERE id = 'run-1'`);
    expect(await after.query(`SELECT COUNT(*) AS n FROM run_approvals`)).toEqual([{ n: 0 }]);

    await after.undoLastMigration({ transaction: 'each' });
    expect(await after.query(`SELECT name FROM sqlite_master WHERE name = 'run_approvals'`)).toEqual([]);
    await after.destroy();
  });
});
