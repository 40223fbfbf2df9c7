import { type MigrationInterface, type QueryRunner, Table, TableIndex } from 'typeorm';

/**
 * The first answer to each request sent with an `Idempotency-Key`, per user,
 * so a retry gets it again instead of a second run or workspace. Table API
 * only, so it runs on SQLite and PostgreSQL alike.
 */
export class IdempotencyKeys1766000000000 implements MigrationInterface {
  name = 'IdempotencyKeys1766000000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.createTable(
      new Table({
        name: 'idempotency_keys',
        columns: [
          { name: 'user_id', type: 'varchar', length: '128', isPrimary: true },
          { name: 'idempotency_key', type: 'varchar', length: '255', isPrimary: true },
          // SHA-256 of the route and the canonical JSON of the body: the same key with another request is refused.
          { name: 'fingerprint', type: 'varchar', length: '64' },
          { name: 'status_code', type: 'integer', isNullable: true },
          { name: 'response_body', type: 'text', isNullable: true },
          { name: 'created_at', type: 'varchar', length: '32' },
        ],
        indices: [new TableIndex({ name: 'idx_idempotency_keys_created', columnNames: ['created_at'] })],
      }),
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.dropTable('idempotency_keys');
  }
}
