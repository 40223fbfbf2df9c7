// Preload for the server (`node --import ./bench/sql-count.mjs dist/main.js`): counts every SQL statement the
// drivers execute, without touching src/. better-sqlite3 statements are timed exactly (they run synchronously);
// PostgreSQL ones from the call to the answer. On SIGUSR2 the counts so far are written as JSON to SQL_COUNT_FILE,
// so a benchmark can take a snapshot before and after a batch of requests and divide the difference.
import { writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { performance } from 'node:perf_hooks';

const require = createRequire(new URL('../package.json', import.meta.url));
const counts = new Map();
let snapshot = 0;
let prepares = 0;

/**
 * Groups statements by their text with numbers replaced by N: TypeORM's SQLite driver writes number parameters
 * into the SQL text as literals, so `… VALUES (?, 7, …)` and `… VALUES (?, 8, …)` are one statement here. How many
 * different texts a group had is kept too (each one is a separate prepared statement).
 */
function record(sql, ms) {
  const text = String(sql).replace(/\s+/g, ' ').trim();
  const key = text.replace(/\b\d+\b/g, 'N');
  const entry = counts.get(key) ?? counts.set(key, { count: 0, ms: 0, texts: new Set() }).get(key);
  entry.count++;
  entry.ms += ms;
  if (entry.texts.size < 100_000) entry.texts.add(text);
}

function timed(original) {
  return function (...args) {
    const start = performance.now();
    try {
      return original.apply(this, args);
    } finally {
      record(this.source, performance.now() - start);
    }
  };
}

try {
  const Database = require('better-sqlite3');
  const probe = new Database(':memory:');
  const Statement = Object.getPrototypeOf(probe.prepare('SELECT 1'));
  probe.close();
  for (const method of ['run', 'get', 'all', 'iterate']) Statement[method] = timed(Statement[method]);
  // Every prepare is a miss of TypeORM's statement cache (100 statements per query runner, first in first out).
  const prepare = Database.prototype.prepare;
  Database.prototype.prepare = function (sql) {
    prepares++;
    return prepare.call(this, sql);
  };
  const exec = Database.prototype.exec;
  Database.prototype.exec = function (sql) {
    const start = performance.now();
    try {
      return exec.call(this, sql);
    } finally {
      record(sql, performance.now() - start);
    }
  };
} catch (error) {
  process.stderr.write(`sql-count: better-sqlite3 not patched: ${error.message}\n`);
}

try {
  const { Client } = require('pg');
  const query = Client.prototype.query;
  Client.prototype.query = function (config, values, callback) {
    const sql = typeof config === 'string' ? config : config?.text;
    const start = performance.now();
    const result = query.call(this, config, values, callback);
    if (result && typeof result.then === 'function') {
      result.then(
        () => record(sql, performance.now() - start),
        () => record(sql, performance.now() - start),
      );
    } else {
      record(sql, 0);
    }
    return result;
  };
} catch (error) {
  process.stderr.write(`sql-count: pg not patched: ${error.message}\n`);
}

process.on('SIGUSR2', () => {
  const file = process.env.SQL_COUNT_FILE;
  if (!file) return;
  snapshot++;
  const statements = Object.fromEntries([...counts].map(([key, { count, ms, texts }]) => [key, { count, ms, texts: texts.size }]));
  writeFileSync(file, JSON.stringify({ snapshot, prepares, statements }));
});
