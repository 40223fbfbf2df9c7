import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DataSource } from 'typeorm';
import { afterEach, beforeEach, describe, expect, it, jest } from '@jest/globals';
import { dataSourceOptions } from './data-source-options.js';
import { DatabaseService } from './database.service.js';

describe('DatabaseService transactions on SQLite', () => {
  let dir: string;
  let dataSource: DataSource;
  let database: DatabaseService;

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'autocode-db-'));
    dataSource = new DataSource({ ...dataSourceOptions({ type: 'sqlite', path: join(dir, 'test.db') }), entities: [], migrations: [] });
    await dataSource.initialize();
    await dataSource.query('CREATE TABLE items (name TEXT PRIMARY KEY, position INTEGER NOT NULL)');
    await dataSource.query('CREATE TABLE parents (id INTEGER PRIMARY KEY)');
    await dataSource.query('CREATE TABLE children (parent INTEGER REFERENCES parents(id) DEFERRABLE INITIALLY DEFERRED)');
    database = new DatabaseService(dataSource);
  });

  afterEach(async () => {
    await dataSource.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  /** Inserts `name` at the next position, after a pause that lets other transactions queue up. */
  const append = (name: string) =>
    database.transaction(async (manager) => {
      const [{ count }] = (await database.query<{ count: number }>(manager, 'SELECT COUNT(*) AS count FROM items')).rows as [{ count: number }];
      await new Promise((resolve) => setTimeout(resolve, 2));
      await database.query(manager, 'INSERT INTO items (name, position) VALUES (?, ?)', [name, count]);
      return count;
    });

  const items = async () => (await dataSource.query('SELECT name, position FROM items ORDER BY position')) as Array<{ name: string; position: number }>;

  it('runs waiting transactions one after the other and commits them together', async () => {
    const runners = jest.spyOn(dataSource, 'createQueryRunner');
    const positions = await Promise.all(Array.from({ length: 10 }, (_, i) => append(`item-${i}`)));
    // The first ran alone; the nine that queued behind it shared one commit.
    expect(runners.mock.calls.length).toBe(2);
    expect(positions).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect((await items()).map((item) => item.name)).toEqual(Array.from({ length: 10 }, (_, i) => `item-${i}`));
  });

  it('undoes a failing transaction alone when it shares a commit', async () => {
    const failing = () =>
      database.transaction(async (manager) => {
        await database.query(manager, "INSERT INTO items (name, position) VALUES ('doomed', 100)");
        throw new Error('changed its mind');
      });
    const runners = jest.spyOn(dataSource, 'createQueryRunner');
    const results = await Promise.allSettled([append('first'), append('second'), failing(), append('third')]);
    // 'first' alone, then the other three in one transaction.
    expect(runners.mock.calls.length).toBe(2);
    expect(results.map((result) => result.status)).toEqual(['fulfilled', 'fulfilled', 'rejected', 'fulfilled']);
    expect((results[2] as PromiseRejectedResult).reason).toEqual(new Error('changed its mind'));
    expect(await items()).toEqual([
      { name: 'first', position: 0 },
      { name: 'second', position: 1 },
      { name: 'third', position: 2 },
    ]);
  });

  it('answers nobody as committed when the shared COMMIT fails, and keeps serving', async () => {
    // A deferred foreign key is checked at COMMIT: the member that breaks it fails the commit for the whole group.
    const breaking = () =>
      database.transaction(async (manager) => {
        await database.query(manager, 'INSERT INTO children (parent) VALUES (42)');
      });
    const results = await Promise.allSettled([append('alone'), append('a'), breaking(), append('b')]);
    expect(results.map((result) => result.status)).toEqual(['fulfilled', 'rejected', 'rejected', 'rejected']);
    expect((await items()).map((item) => item.name)).toEqual(['alone']);
    expect(await dataSource.query('SELECT COUNT(*) AS count FROM children')).toEqual([{ count: 0 }]);
    await expect(append('after')).resolves.toBe(1);
  });
});
