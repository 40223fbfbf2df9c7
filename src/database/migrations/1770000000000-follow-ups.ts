import { type MigrationInterface, type QueryRunner, Table, TableColumn, TableForeignKey, TableIndex } from 'typeorm';

/**
 * Follow-up messages: a run continued from another (`parent_run_id`, and `thread_id`, the root
 * of its thread, so a thread is listed by one indexed column), the messages sent to a running
 * run, and the agents' session transcripts, which a follow-up resumes on any node. Messages and
 * transcripts go with their run. Table API only, so it runs on SQLite and PostgreSQL alike.
 */
export class FollowUps1770000000000 implements MigrationInterface {
  name = 'FollowUps1770000000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.addColumns('runs', [
      new TableColumn({ name: 'parent_run_id', type: 'varchar', length: '36', isNullable: true }),
      // The thread's root; null for a run that is itself a root.
      new TableColumn({ name: 'thread_id', type: 'varchar', length: '36', isNullable: true }),
    ]);
    await queryRunner.createIndex('runs', new TableIndex({ name: 'idx_runs_thread', columnNames: ['thread_id'] }));
    await queryRunner.createTable(
      new Table({
        name: 'run_messages',
        columns: [
          { name: 'id', type: 'varchar', length: '36', isPrimary: true },
          { name: 'run_id', type: 'varchar', length: '36' },
          { name: 'prompt', type: 'text' },
          { name: 'created_at', type: 'varchar', length: '32' },
          // Set by the node running the run once the agent has it.
          { name: 'delivered_at', type: 'varchar', length: '32', isNullable: true },
        ],
        foreignKeys: [new TableForeignKey({ columnNames: ['run_id'], referencedTableName: 'runs', referencedColumnNames: ['id'], onDelete: 'CASCADE' })],
        indices: [new TableIndex({ name: 'idx_run_messages_pending', columnNames: ['run_id', 'created_at'], where: 'delivered_at IS NULL' })],
      }),
    );
    await queryRunner.createTable(
      new Table({
        name: 'session_entries',
        columns: [
          { name: 'id', type: 'integer', isPrimary: true, isGenerated: true, generationStrategy: 'increment' },
          // The run whose agent wrote the entry: a resumed session's entries belong to the run that continued it.
          { name: 'run_id', type: 'varchar', length: '36' },
          { name: 'session_id', type: 'varchar', length: '64' },
          // '' for the main transcript, else the SDK's subpath (a subagent's transcript).
          { name: 'subpath', type: 'varchar', length: '255', default: "''" },
          // The entry's own uuid, when it has one: appends are idempotent on it.
          { name: 'uuid', type: 'varchar', length: '64', isNullable: true },
          // One JSONL line of the transcript.
          { name: 'entry', type: 'text' },
        ],
        foreignKeys: [new TableForeignKey({ columnNames: ['run_id'], referencedTableName: 'runs', referencedColumnNames: ['id'], onDelete: 'CASCADE' })],
        indices: [
          new TableIndex({ name: 'idx_session_entries_session', columnNames: ['session_id', 'subpath', 'id'] }),
          // Appends skip the entries a session already has, by uuid.
          new TableIndex({ name: 'idx_session_entries_uuid', columnNames: ['session_id', 'subpath', 'uuid'] }),
          new TableIndex({ name: 'idx_session_entries_run', columnNames: ['run_id'] }),
        ],
      }),
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.dropTable('session_entries');
    await queryRunner.dropTable('run_messages');
    await queryRunner.dropIndex('runs', 'idx_runs_thread');
    await queryRunner.dropColumns('runs', ['parent_run_id', 'thread_id']);
  }
}
