import { type MigrationInterface, type QueryRunner, TableColumn } from 'typeorm';

/**
 * Daily dollar budgets: a user's override of their tier's budget, and the budget a run asked for
 * at submit. Table API only, so it runs on SQLite (which rebuilds both tables) and PostgreSQL alike.
 */
export class Budgets1769600000000 implements MigrationInterface {
  name = 'Budgets1769600000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.addColumn('users', new TableColumn({ name: 'quota_daily_budget_usd', type: 'double precision', isNullable: true }));
    await queryRunner.addColumn('runs', new TableColumn({ name: 'max_budget_usd', type: 'double precision', isNullable: true }));
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.dropColumn('runs', 'max_budget_usd');
    await queryRunner.dropColumn('users', 'quota_daily_budget_usd');
  }
}
