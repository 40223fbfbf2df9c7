// Shared pieces of the benchmarks: start built server processes on 127.0.0.1, make tokens, PostgreSQL databases,
// a bare Fastify reference server, RSS readings, percentiles, and a registry that stops whatever was started.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createHmac, randomBytes } from 'node:crypto';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import pg from 'pg';

export const ROOT = fileURLToPath(new URL('..', import.meta.url));
export const SECRET = randomBytes(32).toString('base64url');
const PG_ADMIN_URL = process.env.BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
/** The built server to drive; `bench/run.mjs` points this at a private copy of `dist/` so a rebuild elsewhere cannot change it mid-run. */
export const distDir = () => process.env.BENCH_DIST ?? join(ROOT, 'dist');

/** The Node flags the server runs with, read from `npm start` (`node <flags> dist/main.js`), so a benchmark starts it alike. */
export const SERVER_NODE_FLAGS = (/\bnode((?: --\S+)*) dist\/main\.js/.exec(JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).scripts.start)?.[1] ?? '').split(' ').filter(Boolean);

/** Wall-clock milliseconds with sub-millisecond resolution (the same clock the agent fixtures print). */
export const now = () => performance.timeOrigin + performance.now();
export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// ---------------------------------------------------------------------------------------------------------------
// Everything started is registered here and stopped by `cleanupAll()`, also when a scenario throws or on Ctrl-C.

const cleanups = new Set();

/** Registers a cleanup; returns a function that runs it once and unregisters it (`.cancel()` only unregisters it). */
export function onCleanup(fn) {
  let done = null;
  const run = () => (done ??= (cleanups.delete(run), Promise.resolve().then(fn)));
  run.cancel = () => cleanups.delete(run);
  cleanups.add(run);
  return run;
}

export async function cleanupAll() {
  const pending = [...cleanups].reverse();
  for (const run of pending) await run().catch((error) => console.error(`cleanup failed: ${error.message}`));
}

// ---------------------------------------------------------------------------------------------------------------

export function token(sub, admin = false) {
  const encode = (value) => Buffer.from(JSON.stringify(value)).toString('base64url');
  const body = `${encode({ alg: 'HS256', typ: 'JWT' })}.${encode({ sub, exp: Math.floor(Date.now() / 1000) + 3600 * 6, ...(admin ? { role: 'admin' } : {}) })}`;
  return `${body}.${createHmac('sha256', SECRET).update(body).digest('base64url')}`;
}

export async function createDatabase() {
  const name = `autocode_bench_${randomBytes(5).toString('hex')}`;
  const admin = new pg.Client({ connectionString: PG_ADMIN_URL });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(PG_ADMIN_URL);
  url.pathname = `/${name}`;
  const drop = onCleanup(async () => {
    const client = new pg.Client({ connectionString: PG_ADMIN_URL });
    await client.connect();
    await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await client.end();
  });
  return { url: url.toString(), drop };
}

/** A TCP port free on 127.0.0.1 right now. */
export async function freePort() {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address();
  server.close();
  await once(server, 'close');
  return port;
}

/** Stops a child: SIGTERM, then SIGKILL after `graceMs`; resolves once it has exited. */
async function stopChild(child, graceMs = 30_000) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

/**
 * Starts `node dist/main.js` with a temporary DATA_DIR (or `options.dataDir`, kept afterwards); resolves once
 * GET /health/live answers. Its output goes to `DATA_DIR/server-*.log`, not through this process. Options:
 * `nodeArgs` (e.g. `--cpu-prof`), `port` (default: a free one), `agents` (extra agent profiles), `dataDir`.
 */
export async function startServer(env = {}, options = {}) {
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), 'autocode-bench-'));
  const removeDir = options.dataDir ? () => {} : () => rmSync(dataDir, { recursive: true, force: true });
  // A free port can be taken by someone else before the server binds it: try again with another.
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOnce(env, options, dataDir, removeDir);
    } catch (error) {
      if (attempt >= 3 || options.port || !/EADDRINUSE/.test(error.message)) {
        removeDir();
        throw error;
      }
    }
  }
}

async function startOnce(env, options, dataDir, removeDir) {
  const agentsFile = join(dataDir, 'agents.json');
  writeFileSync(agentsFile, JSON.stringify({ default: 'noop', agents: { noop: { command: ['true'] }, ...options.agents } }));
  const port = options.port ?? (await freePort());
  const logFile = join(dataDir, `server-${Date.now()}.log`);
  const logFd = openSync(logFile, 'a');
  const child = spawn(process.execPath, [...SERVER_NODE_FLAGS, ...(options.nodeArgs ?? []), join(distDir(), 'main.js')], {
    env: {
      PATH: process.env.PATH,
      DATA_DIR: dataDir,
      HOST: '127.0.0.1',
      PORT: String(port),
      JWT_SECRET: SECRET,
      AGENTS_FILE: agentsFile,
      LOG_LEVEL: 'info',
      LOG_FORMAT: 'json',
      RATE_LIMIT_PER_MINUTE: '0',
      ...env,
    },
    stdio: ['ignore', logFd, logFd],
  });
  closeSync(logFd);
  const output = () => {
    try {
      return readFileSync(logFile, 'utf8');
    } catch {
      return '';
    }
  };
  const url = `http://127.0.0.1:${port}`;
  const stop = onCleanup(async () => {
    await stopChild(child);
    removeDir();
  });
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null || Date.now() > deadline) {
      const text = output();
      await stopChild(child);
      stop.cancel();
      throw new Error(`the server did not start (${child.exitCode ?? child.signalCode ?? 'timeout'}):\n${text.slice(-4000)}`);
    }
    try {
      const response = await fetch(`${url}/health/live`, { signal: AbortSignal.timeout(2000) });
      await response.arrayBuffer();
      if (response.ok) return { url, pid: child.pid, child, dataDir, output, stop };
    } catch {}
    await sleep(20);
  }
}

/**
 * The reference: a bare Fastify server in its own process answering the given bodies (objects, serialized by
 * Fastify like the real server's) on `POST /api/v1/runs` (202) and `GET /api/v1/runs/:id` (200).
 */
export async function startReference(bodies) {
  const child = spawn(process.execPath, [join(ROOT, 'bench', 'reference-server.mjs')], {
    env: { PATH: process.env.PATH, REFERENCE_BODIES: JSON.stringify(bodies) },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const stop = onCleanup(() => stopChild(child, 5_000));
  let output = '';
  child.stdout.on('data', (chunk) => (output += chunk));
  const deadline = Date.now() + 10_000;
  for (;;) {
    const port = /listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(output)?.[1];
    if (port) return { url: `http://127.0.0.1:${port}`, pid: child.pid, stop };
    if (child.exitCode !== null || Date.now() > deadline) {
      await stop();
      throw new Error(`the reference server did not start:\n${output}`);
    }
    await sleep(20);
  }
}

export async function api(url, method, path, bearer, body) {
  const response = await fetch(url + path, {
    method,
    headers: { authorization: `Bearer ${bearer}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
    signal: AbortSignal.timeout(30_000),
  });
  if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${await response.text()}`);
  return response.json();
}

/** Resident set size of a process in bytes (VmRSS of /proc/<pid>/status). */
export function rss(pid) {
  const kb = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
  if (kb === undefined) throw new Error(`no VmRSS for process ${pid}`);
  return Number(kb) * 1024;
}

/** CPU time (user + system) a process has used so far, in milliseconds (/proc/<pid>/stat; 10 ms resolution). */
export function cpuTime(pid) {
  const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  // After the command: state(3) … utime(14) stime(15), i.e. indexes 11 and 12.
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS;
}
const CLOCK_TICKS = 100;

/** Percentile (nearest rank) of numbers; sorts a copy. */
export function percentile(values, p) {
  if (values.length === 0) return NaN;
  const sorted = Float64Array.from(values).sort();
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

export function median(values) {
  return percentile(values, 50);
}

/** Polls `check` every `intervalMs` until it returns a truthy value; throws after `timeoutMs`. */
export async function waitFor(what, check, { timeoutMs = 30_000, intervalMs = 50 } = {}) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(intervalMs);
  }
}

export function machine() {
  const list = cpus();
  return { nproc: list.length, cpu: list[0]?.model ?? 'unknown', node: process.version, platform: `${process.platform} ${process.arch}` };
}

export function markdownTable(rows, columns) {
  const line = (cells) => `| ${cells.join(' | ')} |`;
  return [line(columns), line(columns.map(() => '---')), ...rows.map((row) => line(columns.map((c) => String(row[c] ?? ''))))].join('\n');
}
