import { type MigrationInterface, type QueryRunner, Table, TableForeignKey, TableIndex } from 'typeorm';

/** Users, runs and run events. Written with the Table API so it runs on SQLite and PostgreSQL alike. */
export class InitialSchema1764000000000 implements MigrationInterface {
  name = 'InitialSchema1764000000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.createTable(
      new Table({
        name: 'users',
        columns: [
          { name: 'id', type: 'varchar', length: '128', isPrimary: true },
          { name: 'role', type: 'varchar', length: '16', default: "'user'" },
          { name: 'tier', type: 'varchar', length: '16', isNullable: true },
          { name: 'quota_concurrent', type: 'integer', isNullable: true },
          { name: 'quota_daily', type: 'integer', isNullable: true },
          { name: 'quota_queued', type: 'integer', isNullable: true },
          { name: 'quota_max_run_seconds', type: 'integer', isNullable: true },
          { name: 'created_at', type: 'varchar', length: '32' },
          { name: 'last_seen_at', type: 'varchar', length: '32' },
        ],
      }),
    );
    await queryRunner.createTable(
      new Table({
        name: 'runs',
        columns: [
          { name: 'id', type: 'varchar', length: '36', isPrimary: true },
          { name: 'user_id', type: 'varchar', length: '128' },
          { name: 'agent', type: 'varchar', length: '64' },
          { name: 'status', type: 'varchar', length: '16' },
          { name: 'prompt', type: 'text' },
          { name: 'spec_id', type: 'varchar', length: '128', isNullable: true },
          { name: 'workspace', type: 'varchar', length: '128', isNullable: true },
          { name: 'model', type: 'varchar', length: '128', isNullable: true },
          { name: 'timeout_seconds', type: 'integer' },
          { name: 'metadata', type: 'text' },
          { name: 'created_at', type: 'varchar', length: '32' },
          { name: 'started_at', type: 'varchar', length: '32', isNullable: true },
          { name: 'finished_at', type: 'varchar', length: '32', isNullable: true },
          { name: 'exit_code', type: 'integer', isNullable: true },
          { name: 'error', type: 'text', isNullable: true },
          { name: 'result', type: 'text', isNullable: true },
          { name: 'cancel_requested', type: 'boolean', default: false },
          { name: 'node', type: 'varchar', length: '64', isNullable: true },
          { name: 'pgid', type: 'integer', isNullable: true },
          { name: 'pgid_started_at', type: 'varchar', length: '32', isNullable: true },
          { name: 'last_seq', type: 'integer', default: 0 },
        ],
        foreignKeys: [
          new TableForeignKey({ columnNames: ['user_id'], referencedTableName: 'users', referencedColumnNames: ['id'] }),
        ],
        indices: [
          new TableIndex({ name: 'idx_runs_user_created', columnNames: ['user_id', 'created_at', 'id'] }),
          new TableIndex({ name: 'idx_runs_status_created', columnNames: ['status', 'created_at'] }),
          new TableIndex({ name: 'idx_runs_user_status', columnNames: ['user_id', 'status'] }),
        ],
      }),
    );
    await queryRunner.createTable(
      new Table({
        name: 'run_events',
        columns: [
          { name: 'run_id', type: 'varchar', length: '36', isPrimary: true },
          { name: 'seq', type: 'integer', isPrimary: true },
          { name: 'ts', type: 'varchar', length: '32' },
          { name: 'type', type: 'varchar', length: '16' },
          { name: 'data', type: 'text' },
        ],
        foreignKeys: [
          new TableForeignKey({
            columnNames: ['run_id'],
            referencedTableName: 'runs',
            referencedColumnNames: ['id'],
            onDelete: 'CASCADE',
          }),
        ],
      }),
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.dropTable('run_events');
    await queryRunner.dropTable('runs');
    await queryRunner.dropTable('users');
  }
}
