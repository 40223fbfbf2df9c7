import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { Mutex } from 'async-mutex';
import { statSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { DataSource, type EntityManager } from 'typeorm';

function inodeOf(path: string): number | null {
  try {
    return statSync(path).ino;
  } catch {
    return null;
  }
}

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

  private readonly sqliteFile: { path: string; inode: number | null } | null;

  constructor(@InjectDataSource() readonly dataSource: DataSource) {
    const sqlite = dataSource.options.type === 'better-sqlite3';
    this.sqliteWriter = sqlite ? new Mutex() : null;
    this.sqliteFile = sqlite ? { path: String(dataSource.options.database), inode: inodeOf(String(dataSource.options.database)) } : null;
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

  /**
   * The database answers a query that reads it. For SQLite, the file must
   * also still be the one that was opened: a database file that vanished or
   * was replaced (an unmounted volume) would otherwise keep answering from
   * the open descriptor while nothing reaches the disk others see.
   */
  async ping(): Promise<void> {
    await this.dataSource.query('SELECT COUNT(*) FROM migrations');
    if (this.sqliteFile) {
      let inode: number;
      try {
        inode = (await stat(this.sqliteFile.path)).ino;
      } catch {
        throw new Error(`the database file ${this.sqliteFile.path} is gone`);
      }
      this.sqliteFile.inode ??= inode;
      if (inode !== this.sqliteFile.inode) throw new Error(`the database file ${this.sqliteFile.path} was replaced`);
    }
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
