// Preload for the server (`node --import ./bench/trace.mjs dist/main.js`, used by `dispatch --trace`): appends
// timestamped lines to TRACE_FILE for the steps between a submit and its agent's start — transaction BEGIN/COMMIT
// (better-sqlite3 and pg), fs.promises.mkdir, child_process.spawn — as "<wall ms> <event> <detail>".
// Timestamps are performance.timeOrigin + performance.now(), the clock the benchmark and the agent fixtures use.
import { appendFileSync } from 'node:fs';
import childProcess from 'node:child_process';
import fsPromises from 'node:fs/promises';
import { createRequire, syncBuiltinESMExports } from 'node:module';
import { performance } from 'node:perf_hooks';

const file = process.env.TRACE_FILE;
const now = () => (performance.timeOrigin + performance.now()).toFixed(3);
const lines = [];
const log = (event, detail = '') => {
  if (file) lines.push(`${now()} ${event} ${detail}`);
};
// Written in batches so the tracing itself stays off the path it measures.
setInterval(() => {
  if (lines.length) appendFileSync(file, lines.splice(0).join('\n') + '\n');
}, 200).unref();
process.on('exit', () => lines.length && appendFileSync(file, lines.join('\n') + '\n'));

const spawn = childProcess.spawn;
childProcess.spawn = function (...args) {
  const options = args.find((arg) => arg && typeof arg === 'object' && !Array.isArray(arg));
  const runId = options?.env?.AUTOCODE_RUN_ID ?? '-';
  log('spawn-call', runId);
  const child = spawn.apply(this, args);
  log('spawn-return', runId);
  return child;
};
const mkdir = fsPromises.mkdir;
fsPromises.mkdir = async function (...args) {
  log('mkdir-call', String(args[0]).slice(-60));
  try {
    return await mkdir.apply(this, args);
  } finally {
    log('mkdir-done', String(args[0]).slice(-60));
  }
};
syncBuiltinESMExports();

const require = createRequire(new URL('../package.json', import.meta.url));
try {
  const Database = require('better-sqlite3');
  const probe = new Database(':memory:');
  const Statement = Object.getPrototypeOf(probe.prepare('SELECT 1'));
  probe.close();
  const run = Statement.run;
  Statement.run = function (...args) {
    const sql = this.source;
    if (sql === 'BEGIN TRANSACTION' || sql === 'BEGIN IMMEDIATE') log('begin');
    const result = run.apply(this, args);
    if (sql === 'COMMIT') log('commit');
    return result;
  };
} catch {}
try {
  const { Client } = require('pg');
  const query = Client.prototype.query;
  Client.prototype.query = function (config, values, callback) {
    const sql = typeof config === 'string' ? config : config?.text;
    if (/^START TRANSACTION|^BEGIN/i.test(sql ?? '')) log('begin');
    const result = query.call(this, config, values, callback);
    if (sql === 'COMMIT' && result?.then) result.then(() => log('commit'), () => {});
    return result;
  };
} catch {}
