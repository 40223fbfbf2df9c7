import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DataSource } from 'typeorm';
import { afterEach, beforeEach } from '@jest/globals';
import { dataSourceOptions } from '../../src/database/data-source-options.js';

/**
 * For trying a migration on a database an earlier release made: a SQLite file of each test's own
 * (made before it, removed after it), opened with the application's options, or with only the
 * migrations given.
 */
export function sqliteMigrationFile(): (migrations?: DataSource['options']['migrations']) => DataSource {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'autocode-migration-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));
  return (migrations) => {
    const options = dataSourceOptions({ type: 'sqlite', path: join(dir, 'autocode.db') });
    return new DataSource(migrations ? ({ ...options, migrations } as DataSource['options']) : options);
  };
}
