import { type MigrationInterface, type QueryRunner, Table, TableIndex } from 'typeorm';

/**
 * The server processes that share the database: each writes its row every few seconds, so any
 * node (and `autocode server status`) can list the live ones with their role, capacity and
 * running runs. Table API only, so it runs on SQLite and PostgreSQL alike.
 */
export class Nodes1769500000000 implements MigrationInterface {
  name = 'Nodes1769500000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.createTable(
      new Table({
        name: 'nodes',
        columns: [
          // One process: NODE_NAME need not be unique (several processes on one host).
          { name: 'id', type: 'varchar', length: '36', isPrimary: true },
          { name: 'name', type: 'varchar', length: '128' },
          { name: 'role', type: 'varchar', length: '16' },
          { name: 'version', type: 'varchar', length: '32' },
          { name: 'capacity', type: 'integer' },
          { name: 'running', type: 'integer' },
          { name: 'queued', type: 'integer' },
          { name: 'started_at', type: 'varchar', length: '32' },
          { name: 'seen_at', type: 'varchar', length: '32' },
        ],
        indices: [new TableIndex({ name: 'idx_nodes_seen_at', columnNames: ['seen_at'] })],
      }),
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.dropTable('nodes');
  }
}
