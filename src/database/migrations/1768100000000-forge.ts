import { type MigrationInterface, type QueryRunner, TableColumn } from 'typeorm';

/**
 * Pushing runs and opening pull requests: a workspace's forge (GitHub or GitLab) and its push
 * credential (encrypted), and a run's pull request (asked for at submit, opened, or why not).
 * Table API only, so it runs on SQLite and PostgreSQL alike.
 */
export class Forge1768100000000 implements MigrationInterface {
  name = 'Forge1768100000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.addColumns('workspaces', [
      // JSON {kind, apiUrl, repository}; null when the workspace names no forge.
      new TableColumn({ name: 'forge', type: 'text', isNullable: true }),
      // AES-256-GCM envelope of {kind, token, username}; null when none is stored.
      new TableColumn({ name: 'credential', type: 'text', isNullable: true }),
    ]);
    // JSON {requested?, opened?, error?}; null when none was asked for or opened.
    await queryRunner.addColumn('runs', new TableColumn({ name: 'pull_request', type: 'text', isNullable: true }));
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.dropColumn('runs', 'pull_request');
    await queryRunner.dropColumns('workspaces', ['credential', 'forge']);
  }
}
