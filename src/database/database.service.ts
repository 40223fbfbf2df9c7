import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
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

/** Most transactions that share one SQLite commit. */
const MAX_GROUP = 64;

interface PendingTransaction {
  work: (manager: EntityManager) => Promise<unknown>;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
}

/**
 * Write transactions. SQLite has one connection per process and one writer
 * per database, so concurrent transactions in this process are serialized
 * here (TypeORM would otherwise interleave BEGINs on the shared connection);
 * PostgreSQL transactions run concurrently and lock rows themselves.
 *
 * On SQLite, the transactions that queued up while one was running share the
 * next commit (group commit): each runs, one after the other as before, inside
 * its own savepoint, so one that fails is undone alone; all of them are
 * answered once the common COMMIT succeeded. A commit writes the WAL and now
 * and then checkpoints it, which costs more than a submit's statements, so
 * under load this raises the write rate several times; alone, a transaction
 * runs at once as it did.
 */
@Injectable()
export class DatabaseService {
  /** SQLite only: transactions waiting for the writer, and whether it is busy. */
  private readonly sqliteWriter: { pending: PendingTransaction[]; busy: boolean } | null;

  private readonly sqliteFile: { path: string; inode: number | null } | null;

  constructor(@InjectDataSource() readonly dataSource: DataSource) {
    const sqlite = dataSource.options.type === 'better-sqlite3';
    this.sqliteWriter = sqlite ? { pending: [], busy: false } : null;
    this.sqliteFile = sqlite ? { path: String(dataSource.options.database), inode: inodeOf(String(dataSource.options.database)) } : null;
  }

  get isPostgres(): boolean {
    return this.dataSource.options.type === 'postgres';
  }

  transaction<T>(work: (manager: EntityManager) => Promise<T>): Promise<T> {
    const writer = this.sqliteWriter;
    if (!writer) return this.dataSource.transaction(work);
    return new Promise<T>((resolve, reject) => {
      writer.pending.push({ work, resolve: resolve as (value: unknown) => void, reject });
      if (!writer.busy) void this.drainWriter(writer);
    });
  }

  /** Commits the waiting SQLite transactions, up to MAX_GROUP at a time, until none waits. */
  private async drainWriter(writer: { pending: PendingTransaction[]; busy: boolean }): Promise<void> {
    writer.busy = true;
    try {
      while (writer.pending.length > 0) {
        const group = writer.pending.splice(0, MAX_GROUP);
        const notRun = await this.commitGroup(group);
        writer.pending.unshift(...notRun);
      }
    } finally {
      writer.busy = false;
    }
  }

  /**
   * One SQLite transaction for `group`, taking the database's write lock at
   * BEGIN: a read inside it can never be outdated by another process's write
   * before it commits, and no read lock has to be upgraded (which can fail).
   * Each member runs in a savepoint when there are several. Returns the members
   * that did not run because the transaction had to be abandoned before their
   * turn (they go into the next one); every other member is settled.
   */
  private async commitGroup(group: PendingTransaction[]): Promise<PendingTransaction[]> {
    const runner = this.dataSource.createQueryRunner();
    const shared = group.length > 1;
    const done: Array<{ member: PendingTransaction; value: unknown }> = [];
    let next = 0;
    try {
      await runner.query('BEGIN IMMEDIATE');
      for (; next < group.length; next++) {
        const member = group[next]!;
        if (shared) await runner.query('SAVEPOINT grouped');
        let value: unknown;
        try {
          value = await member.work(runner.manager);
        } catch (error) {
          if (!shared) throw error;
          // Undo this member alone; if even that fails, the whole transaction is lost (below).
          await runner.query('ROLLBACK TO grouped');
          await runner.query('RELEASE grouped');
          member.reject(error);
          continue;
        }
        if (shared) await runner.query('RELEASE grouped');
        done.push({ member, value });
      }
      await runner.query('COMMIT');
      for (const { member, value } of done) member.resolve(value);
      return [];
    } catch (error) {
      await runner.query('ROLLBACK').catch(() => undefined);
      // What ran is undone: its callers learn why. The member that was running gets the same error.
      for (const { member } of done) member.reject(error);
      if (next < group.length) group[next]!.reject(error);
      return group.slice(next + 1);
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
