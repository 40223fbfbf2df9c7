import { type MigrationInterface, type QueryRunner, Table, TableColumn, TableForeignKey, TableIndex } from 'typeorm';

/**
 * Approval gates: each tool call of a run that waits for a decision, and the decision, so that
 * any node can take it and the node running the agent finds it. Run events get longer type
 * names (`approval_requested`); SQLite does not enforce a varchar's length, PostgreSQL does.
 * Table API only, so it runs on SQLite and PostgreSQL alike.
 */
export class RunApprovals1769700000000 implements MigrationInterface {
  name = 'RunApprovals1769700000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.createTable(
      new Table({
        name: 'run_approvals',
        columns: [
          { name: 'id', type: 'varchar', length: '36', isPrimary: true },
          { name: 'run_id', type: 'varchar', length: '36' },
          { name: 'tool', type: 'varchar', length: '200' },
          // JSON: the call's arguments.
          { name: 'input', type: 'text' },
          { name: 'requested_at', type: 'varchar', length: '32' },
          { name: 'expires_at', type: 'varchar', length: '32' },
          // allow | deny; null while it waits.
          { name: 'decision', type: 'varchar', length: '8', isNullable: true },
          // The deciding user's id, or `timeout`.
          { name: 'decided_by', type: 'varchar', length: '128', isNullable: true },
          { name: 'message', type: 'text', isNullable: true },
          { name: 'decided_at', type: 'varchar', length: '32', isNullable: true },
        ],
        foreignKeys: [new TableForeignKey({ columnNames: ['run_id'], referencedTableName: 'runs', referencedColumnNames: ['id'], onDelete: 'CASCADE' })],
        indices: [new TableIndex({ name: 'idx_run_approvals_run_requested', columnNames: ['run_id', 'requested_at'] })],
      }),
    );
    if (queryRunner.connection.options.type === 'postgres') {
      await queryRunner.changeColumn('run_events', 'type', new TableColumn({ name: 'type', type: 'varchar', length: '32' }));
    }
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    // run_events.type stays wide: events of the new types may have been written.
    await queryRunner.dropTable('run_approvals');
  }
}
