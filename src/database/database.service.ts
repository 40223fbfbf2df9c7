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

const numbered = new Map<string, string>();

/** `?` placeholders as PostgreSQL's `$1, $2…` (the statements passed here have no `?` inside literals). */
function numberedPlaceholders(sql: string): string {
  let text = numbered.get(sql);
  if (text === undefined) {
    let index = 0;
    text = sql.replace(/\?/g, () => `$${++index}`);
    numbered.set(sql, text);
  }
  return text;
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
      return this.sqliteWriter.runExclusive(() => this.immediateTransaction(work));
    }
    return this.dataSource.transaction(work);
  }

  /**
   * A SQLite transaction that takes the database's write lock at BEGIN: a
   * read inside it can never be outdated by another process's write before
   * this one commits, and no read lock has to be upgraded (which can fail).
   */
  private async immediateTransaction<T>(work: (manager: EntityManager) => Promise<T>): Promise<T> {
    const runner = this.dataSource.createQueryRunner();
    await runner.query('BEGIN IMMEDIATE');
    try {
      const result = await work(runner.manager);
      await runner.query('COMMIT');
      return result;
    } catch (error) {
      await runner.query('ROLLBACK').catch(() => undefined);
      throw error;
    } finally {
      await runner.release();
    }
  }

  /**
   * Runs one statement written with `?` placeholders (numbered `$1, $2…` for
   * PostgreSQL), in the manager's transaction if it has one. Values are bound,
   * never written into the text, so each statement is prepared once.
   */
  async query<T = Record<string, unknown>>(manager: EntityManager, sql: string, parameters: readonly unknown[] = []): Promise<{ rows: T[]; affected: number }> {
    const runner = manager.queryRunner ?? this.dataSource.createQueryRunner();
    try {
      const result = await runner.query(this.isPostgres ? numberedPlaceholders(sql) : sql, [...parameters], true);
      return { rows: (result.records ?? []) as T[], affected: result.affected ?? 0 };
    } finally {
      if (!manager.queryRunner) await runner.release();
    }
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
