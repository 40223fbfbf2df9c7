import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { Mutex } from 'async-mutex';
import { DataSource, type EntityManager } from 'typeorm';

/** Arbitrary constant naming this application's migration lock in pg_advisory_lock. */
const MIGRATION_LOCK_KEY = 7_214_903_118;

/**
 * Write transactions. SQLite has one connection per process and one writer
 * per database, so concurrent transactions in this process are serialized
 * here (TypeORM would otherwise interleave BEGINs on the shared connection);
 * PostgreSQL transactions run concurrently and lock rows themselves.
 */
@Injectable()
export class DatabaseService {
  private readonly sqliteWriter: Mutex | null;

  constructor(@InjectDataSource() readonly dataSource: DataSource) {
    this.sqliteWriter = dataSource.options.type === 'better-sqlite3' ? new Mutex() : null;
  }

  get isPostgres(): boolean {
    return this.dataSource.options.type === 'postgres';
  }

  transaction<T>(work: (manager: EntityManager) => Promise<T>): Promise<T> {
    if (this.sqliteWriter) {
      return this.sqliteWriter.runExclusive(() => this.dataSource.transaction(work));
    }
    return this.dataSource.transaction(work);
  }

  async ping(): Promise<void> {
    await this.dataSource.query('SELECT 1');
  }

  /**
   * Applies pending migrations. On PostgreSQL an advisory lock makes replicas
   * that start together apply them one after the other.
   */
  async runMigrations(): Promise<string[]> {
    if (!this.isPostgres) {
      return (await this.dataSource.runMigrations({ transaction: 'each' })).map((migration) => migration.name);
    }
    const lock = this.dataSource.createQueryRunner();
    try {
      await lock.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
      return (await this.dataSource.runMigrations({ transaction: 'each' })).map((migration) => migration.name);
    } finally {
      await lock.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY]).catch(() => undefined);
      await lock.release();
    }
  }
}
