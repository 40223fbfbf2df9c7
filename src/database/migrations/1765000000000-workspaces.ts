import { type MigrationInterface, type QueryRunner, Table, TableColumn, TableForeignKey, TableIndex } from 'typeorm';

/**
 * Named workspaces, and what a run on one leaves behind: the commit its
 * worktree started from, its diff, and when its worktree was removed.
 * Table API only, so it runs on SQLite and PostgreSQL alike.
 */
export class Workspaces1765000000000 implements MigrationInterface {
  name = 'Workspaces1765000000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.createTable(
      new Table({
        name: 'workspaces',
        columns: [
          { name: 'id', type: 'varchar', length: '36', isPrimary: true },
          { name: 'user_id', type: 'varchar', length: '128' },
          { name: 'name', type: 'varchar', length: '64' },
          { name: 'repo_url', type: 'text', isNullable: true },
          { name: 'ref', type: 'varchar', length: '256', isNullable: true },
          { name: 'created_at', type: 'varchar', length: '32' },
        ],
        foreignKeys: [
          new TableForeignKey({ columnNames: ['user_id'], referencedTableName: 'users', referencedColumnNames: ['id'] }),
        ],
        indices: [
          new TableIndex({ name: 'uq_workspaces_user_name', columnNames: ['user_id', 'name'], isUnique: true }),
          new TableIndex({ name: 'idx_workspaces_user_created', columnNames: ['user_id', 'created_at', 'id'] }),
        ],
      }),
    );
    await queryRunner.addColumns('runs', [
      new TableColumn({ name: 'base_commit', type: 'varchar', length: '64', isNullable: true }),
      new TableColumn({ name: 'diff', type: 'text', isNullable: true }),
      new TableColumn({ name: 'worktree_removed_at', type: 'varchar', length: '32', isNullable: true }),
    ]);
    // The retention sweep looks only at runs whose worktree is still there.
    await queryRunner.createIndex(
      'runs',
      new TableIndex({
        name: 'idx_runs_worktree_pending',
        columnNames: ['finished_at'],
        where: 'base_commit IS NOT NULL AND worktree_removed_at IS NULL',
      }),
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.dropIndex('runs', 'idx_runs_worktree_pending');
    await queryRunner.dropColumns('runs', ['worktree_removed_at', 'diff', 'base_commit']);
    await queryRunner.dropTable('workspaces');
  }
}
