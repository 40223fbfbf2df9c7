import 'reflect-metadata';
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { stringify } from 'yaml';
import { DispatcherService } from '../../src/dispatch/dispatcher.service.js';
import { createApp } from '../../src/app.factory.js';
import { TokenService } from '../../src/auth/token.service.js';
import { Clock } from '../../src/common/clock.js';
import { loadConfiguration, type AppConfig } from '../../src/config/configuration.js';

export const FIXTURES = fileURLToPath(new URL('../fixtures/', import.meta.url));

/** A `command` profile running one of the fixture agents with this Node. */
export function fixtureProfile(script: string, args: string[] = [], extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { executor: 'command', command: [process.execPath, join(FIXTURES, script), ...args], ...extra };
}

export const FIXTURE_AGENTS: Record<string, Record<string, unknown>> = {
  lines: fixtureProfile('lines.mjs', ['5']),
  many: fixtureProfile('lines.mjs', ['300']),
  fail: fixtureProfile('fail.mjs', ['3']),
  echo: fixtureProfile('echo-input.mjs', ['--prompt={prompt}', '{model}'], { env: ['AUTOCODE_TEST_PASSTHROUGH'] }),
  sleeper: fixtureProfile('sleeper.mjs', ['60']),
  trap: fixtureProfile('sleeper.mjs', ['60', 'trap']),
  trapTree: fixtureProfile('trap-tree.mjs'),
  short: fixtureProfile('sleeper.mjs', ['0.4']),
  tree: fixtureProfile('tree.mjs'),
  jsonl: fixtureProfile('jsonl.mjs', [], { output: 'jsonl' }),
  missing: { executor: 'command', command: ['/nonexistent/agent-binary'] },
  fast: { executor: 'command', command: ['/bin/echo', 'fast {prompt}'] },
  writer: fixtureProfile('write-file.mjs', ['{prompt}']),
};

/** A database for one test: SQLite in the data directory, or a fresh PostgreSQL database in the services suite. */
export interface TestDatabase {
  url: string | null;
  drop(): Promise<void>;
}

const PG_ADMIN_URL = process.env.TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

export async function createTestDatabase(): Promise<TestDatabase> {
  if (process.env.AUTOCODE_TEST_DB !== 'postgres') return { url: null, drop: async () => {} };
  const name = `autocode_test_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: PG_ADMIN_URL });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(PG_ADMIN_URL);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    drop: async () => {
      const client = new pg.Client({ connectionString: PG_ADMIN_URL });
      await client.connect();
      await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await client.end();
    },
  };
}

export interface TestServerOptions {
  env?: Record<string, string>;
  /** Reuse a data directory (restart tests); by default a new temporary one. */
  dataDir?: string;
  database?: TestDatabase;
  agents?: Record<string, Record<string, unknown>>;
  /** A clock the test controls (quota day boundaries). */
  clock?: Clock;
}

export interface TestServer {
  url: string;
  app: NestFastifyApplication;
  config: AppConfig;
  dataDir: string;
  database: TestDatabase;
  token(userId: string, options?: { admin?: boolean }): string;
  request(method: string, path: string, options?: RequestOptions): Promise<TestResponse>;
  close(): Promise<void>;
}

export interface RequestOptions {
  token?: string;
  body?: unknown;
  headers?: Record<string, string>;
}

export interface TestResponse {
  status: number;
  headers: Headers;
  text: string;
  // Tests read arbitrary fields of JSON bodies.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  json: any;
}

export function environment(dataDir: string, database: TestDatabase, agents: Record<string, Record<string, unknown>>, env: Record<string, string> = {}): Record<string, string> {
  const agentsFile = join(dataDir, 'agents.yaml');
  writeFileSync(agentsFile, stringify({ default: 'lines', agents }));
  return {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    DATA_DIR: dataDir,
    HOST: '127.0.0.1',
    PORT: '0',
    AGENTS_FILE: agentsFile,
    LOG_LEVEL: 'error',
    LOG_FORMAT: 'json',
    SHUTDOWN_GRACE_SECONDS: '1',
    RATE_LIMIT_PER_MINUTE: '0',
    NODE_NAME: 'test-node',
    // The sandbox has its own suite; elsewhere agents run directly, so fixtures anywhere on disk work.
    SANDBOX: 'none',
    ...(database.url ? { DATABASE_URL: database.url } : {}),
    ...env,
  };
}

export async function startTestServer(options: TestServerOptions = {}): Promise<TestServer> {
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), 'autocode-test-'));
  const database = options.database ?? (await createTestDatabase());
  const config = loadConfiguration(environment(dataDir, database, options.agents ?? FIXTURE_AGENTS, options.env));
  const app = await createApp(config, { clock: options.clock });
  await app.listen({ host: '127.0.0.1', port: 0 });
  // Crash recovery runs in the background once the app is up; tests start from a server that is ready.
  const dispatcher = app.get(DispatcherService);
  await waitFor(() => dispatcher.recoveryState.done, 30_000, 'crash recovery');
  const address = app.getHttpServer().address();
  const url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  const tokens = app.get(TokenService);
  let closed = false;
  return {
    url,
    app,
    config,
    dataDir,
    database,
    token: (userId, tokenOptions = {}) => tokens.create(userId, { admin: tokenOptions.admin === true, ttlSeconds: 3600 }),
    request: (method, path, requestOptions) => request(url, method, path, requestOptions),
    close: async () => {
      if (closed) return;
      closed = true;
      await app.close();
    },
  };
}

/** Closes the server, drops its database and removes its data directory. */
export async function disposeTestServer(server: TestServer): Promise<void> {
  await server.close();
  await server.database.drop();
  rmSync(server.dataDir, { recursive: true, force: true });
}

export async function request(base: string, method: string, path: string, options: RequestOptions = {}): Promise<TestResponse> {
  const headers: Record<string, string> = { ...options.headers };
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  if (options.body !== undefined) headers['content-type'] ??= 'application/json';
  const response = await fetch(base + path, {
    method,
    headers,
    body: options.body === undefined ? undefined : typeof options.body === 'string' ? options.body : JSON.stringify(options.body),
  });
  const text = await response.text();
  let json: unknown = null;
  try {
    json = JSON.parse(text);
  } catch {
    json = null;
  }
  return { status: response.status, headers: response.headers, text, json };
}

/** Polls until `check` returns a value (not undefined/false), or fails after `timeoutMs`. */
export async function waitFor<T>(check: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs = 15_000, what = 'condition'): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** The built server (`dist/main.js`) in a child process, listening; what it printed is kept. */
export interface BuiltServer {
  url: string;
  pid: number;
  /** Its stdout and stderr so far. */
  output(): string;
  /** SIGTERM, then waits for it to exit. */
  stop(): Promise<void>;
}

/** Starts `node dist/main.js` with `env` and waits until it says where it listens (it fails if the server exits first). */
export async function startBuiltServer(env: Record<string, string>, timeoutMs = 30_000): Promise<BuiltServer> {
  const child = spawn(process.execPath, [join(DIST, 'main.js')], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (chunk) => (output += chunk));
  child.stderr.on('data', (chunk) => (output += chunk));
  const stop = async (): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = once(child, 'exit');
    child.kill('SIGTERM');
    await exited;
  };
  try {
    const port = await waitFor(
      () => {
        if (child.exitCode !== null) throw new Error(`the server exited (${child.exitCode}): ${output}`);
        return /listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(output)?.[1];
      },
      timeoutMs,
      'the server',
    );
    return { url: `http://127.0.0.1:${port}`, pid: child.pid!, output: () => output, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** Waits until the run reaches one of `statuses`; returns the run. */
export async function waitForStatus(server: Pick<TestServer, 'request'>, token: string, runId: string, statuses: string[], timeoutMs = 20_000): Promise<TestResponse['json']> {
  return waitFor(
    async () => {
      const response = await server.request('GET', `/api/v1/runs/${runId}`, { token });
      return statuses.includes(response.json?.status) ? response.json : undefined;
    },
    timeoutMs,
    `run ${runId} to reach ${statuses.join('|')}`,
  );
}

/** A clock that stands still until the test moves it. */
export class ManualClock extends Clock {
  constructor(private current: Date) {
    super();
  }

  now(): Date {
    return new Date(this.current);
  }

  set(to: Date): void {
    this.current = to;
  }
}

/** The largest number of runs running at one instant, from their recorded startedAt/finishedAt. */
export function peakOverlap(runs: { startedAt: string; finishedAt: string }[]): number {
  const edges = runs.flatMap((run) => [
    { at: Date.parse(run.startedAt), delta: 1 },
    { at: Date.parse(run.finishedAt), delta: -1 },
  ]);
  edges.sort((a, b) => a.at - b.at || a.delta - b.delta);
  let running = 0;
  let peak = 0;
  for (const edge of edges) peak = Math.max(peak, (running += edge.delta));
  return peak;
}

/** A TCP port free on 127.0.0.1 right now, for a server the test starts as a separate process. */
export async function freePort(): Promise<number> {
  const probe = createServer();
  probe.listen(0, '127.0.0.1');
  await once(probe, 'listening');
  const { port } = probe.address() as { port: number };
  probe.close();
  await once(probe, 'close');
  return port;
}

export const DIST = fileURLToPath(new URL('../../dist/', import.meta.url));

/** Runs the built `autocode` CLI with exactly this environment. */
export function cli(env: Record<string, string>, ...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, [join(DIST, 'cli.js'), ...args], { env, encoding: 'utf8', timeout: 60_000 });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}
