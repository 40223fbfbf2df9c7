import { type MigrationInterface, type QueryRunner, Table, TableForeignKey, TableIndex } from 'typeorm';

/**
 * Webhook endpoints and their deliveries. A delivery is the outbox row written in the
 * transaction that changes the run it announces; a loop sends it and keeps its attempts.
 * Table API only, so it runs on SQLite and PostgreSQL alike.
 */
export class Webhooks1767000000000 implements MigrationInterface {
  name = 'Webhooks1767000000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.createTable(
      new Table({
        name: 'webhook_endpoints',
        columns: [
          { name: 'id', type: 'varchar', length: '36', isPrimary: true },
          { name: 'user_id', type: 'varchar', length: '128' },
          { name: 'url', type: 'text' },
          // JSON array of event types; every type when null.
          { name: 'events', type: 'text', isNullable: true },
          { name: 'secret', type: 'varchar', length: '128' },
          { name: 'created_at', type: 'varchar', length: '32' },
          // Set by the first failure after a success, cleared by the next success.
          { name: 'failing_since', type: 'varchar', length: '32', isNullable: true },
          { name: 'disabled_at', type: 'varchar', length: '32', isNullable: true },
          { name: 'disabled_reason', type: 'text', isNullable: true },
        ],
        foreignKeys: [new TableForeignKey({ columnNames: ['user_id'], referencedTableName: 'users', referencedColumnNames: ['id'] })],
        indices: [new TableIndex({ name: 'idx_webhook_endpoints_user_created', columnNames: ['user_id', 'created_at', 'id'] })],
      }),
    );
    await queryRunner.createTable(
      new Table({
        name: 'webhook_deliveries',
        columns: [
          { name: 'id', type: 'varchar', length: '36', isPrimary: true },
          { name: 'endpoint_id', type: 'varchar', length: '36' },
          { name: 'event_type', type: 'varchar', length: '32' },
          { name: 'payload', type: 'text' },
          // pending → succeeded | failed
          { name: 'status', type: 'varchar', length: '16' },
          { name: 'attempts', type: 'integer', default: 0 },
          { name: 'next_attempt_at', type: 'varchar', length: '32', isNullable: true },
          // Retried until then: 24 hours after it was written, or after a redelivery was asked for.
          { name: 'expires_at', type: 'varchar', length: '32' },
          { name: 'last_attempt_at', type: 'varchar', length: '32', isNullable: true },
          { name: 'last_status_code', type: 'integer', isNullable: true },
          { name: 'last_error', type: 'text', isNullable: true },
          { name: 'created_at', type: 'varchar', length: '32' },
          { name: 'delivered_at', type: 'varchar', length: '32', isNullable: true },
        ],
        foreignKeys: [new TableForeignKey({ columnNames: ['endpoint_id'], referencedTableName: 'webhook_endpoints', referencedColumnNames: ['id'], onDelete: 'CASCADE' })],
        indices: [
          new TableIndex({ name: 'idx_webhook_deliveries_due', columnNames: ['next_attempt_at'], where: "status = 'pending'" }),
          new TableIndex({ name: 'idx_webhook_deliveries_endpoint_created', columnNames: ['endpoint_id', 'created_at', 'id'] }),
        ],
      }),
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.dropTable('webhook_deliveries');
    await queryRunner.dropTable('webhook_endpoints');
  }
}
