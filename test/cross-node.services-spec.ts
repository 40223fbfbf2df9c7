import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, it } from '@jest/globals';
import pg from 'pg';
import { createClient, type RunEvent } from '@autocode/client';
import { expect } from './jest/expect.js';
import { runProcesses } from './helpers/processes.js';
import { hs256Token } from './helpers/tokens.js';
import {
  createTestDatabase,
  environment,
  FIXTURE_AGENTS,
  freePort,
  request,
  startBuiltServer,
  waitFor,
  type BuiltServer,
  type TestDatabase,
} from './helpers/test-server.js';

// One API node and one worker node on the same PostgreSQL database and a Redis server of the
// test's own: events of a run on the worker reach a stream on the API node, a cancel sent to the
// API node reaches the worker, and with Redis stopped both still happen, by polling the database.

const SECRET = 'cross-node-secret-'.padEnd(40, 'x');
/** 30 lines, 50 ms apart. */
const DRIP = { executor: 'command', command: [process.execPath, '-e', "let i = 0; const t = setInterval(() => { console.log('drip ' + ++i); if (i === 30) clearInterval(t); }, 50);"] };

interface RedisServer {
  url: string;
  stop(): Promise<void>;
  start(): Promise<void>;
}

/** A redis-server on a port of its own, keeping nothing on disk. */
async function startRedis(): Promise<RedisServer> {
  const port = await freePort();
  let child: ChildProcess | null = null;
  const start = async (): Promise<void> => {
    child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
    await waitFor(
      () =>
        new Promise<boolean>((resolve) => {
          const probe = spawn('redis-cli', ['-p', String(port), 'ping'], { stdio: ['ignore', 'pipe', 'ignore'] });
          let out = '';
          probe.stdout!.on('data', (chunk) => (out += chunk));
          probe.on('close', () => resolve(out.trim() === 'PONG'));
        }),
      10_000,
      'redis-server',
    );
  };
  const stop = async (): Promise<void> => {
    const running = child;
    child = null;
    if (!running || running.exitCode !== null) return;
    const exited = once(running, 'exit');
    running.kill('SIGKILL');
    await exited;
  };
  await start();
  return { url: `redis://127.0.0.1:${port}`, start, stop };
}

describe('several nodes with Redis', () => {
  let redis: RedisServer;
  let database: TestDatabase;
  let api: BuiltServer;
  let worker: BuiltServer;
  const dataDirs: string[] = [];
  const token = hs256Token(SECRET, { sub: 'nora' });
  const admin = hs256Token(SECRET, { sub: 'ops', role: 'admin' });

  async function node(role: 'api' | 'worker'): Promise<BuiltServer> {
    const dataDir = mkdtempSync(join(tmpdir(), `autocode-${role}-`));
    dataDirs.push(dataDir);
    const env = environment(dataDir, database, { ...FIXTURE_AGENTS, drip: DRIP }, { ROLE: role, NODE_NAME: role, JWT_SECRET: SECRET, REDIS_URL: redis.url, LOG_LEVEL: 'info', HEALTH_DETAILED_PUBLIC: 'true' });
    return startBuiltServer(env);
  }

  async function redisComponent(server: BuiltServer): Promise<{ status: string; detail: Record<string, unknown> }> {
    const report = await request(server.url, 'GET', '/health/detailed', { token: admin });
    return { ...report.json.components.redis, overall: report.json.status };
  }

  beforeAll(async () => {
    redis = await startRedis();
    database = await createTestDatabase();
    api = await node('api');
    worker = await node('worker');
    await waitFor(async () => (await redisComponent(api)).status === 'up' && (await redisComponent(worker)).status === 'up', 15_000, 'both nodes on Redis');
  });
  afterAll(async () => {
    await api?.stop();
    await worker?.stop();
    await redis?.stop();
    await database?.drop();
    for (const dir of dataDirs) rmSync(dir, { recursive: true, force: true });
  });

  it('lists both nodes, with role and capacity, in the detailed report of either', async () => {
    for (const server of [api, worker]) {
      const report = await request(server.url, 'GET', '/health/detailed', { token: admin });
      expect(report.json.nodes.map((node: { name: string; role: string; capacity: number }) => [node.name, node.role, node.capacity])).toEqual([
        ['api', 'api', 0],
        ['worker', 'worker', 4],
      ]);
    }
  });

  it('streams the events of a run on the worker from the API node, each once and in order, as Redis relays them', async () => {
    const client = createClient({ baseUrl: api.url, token });
    const before = (await redisComponent(api)).detail.messagesFromOtherNodes as number;
    const run = await client.submitRun({ agent: 'drip', prompt: 'drip' });
    const events: RunEvent[] = [];
    const lags: number[] = [];
    for await (const event of client.followRun(run.id)) {
      events.push(event);
      if (event.type === 'stdout') lags.push(Date.now() - Date.parse(event.ts));
    }
    expect(events.map((event) => event.seq)).toEqual(events.map((_, i) => i + 1));
    expect(events.filter((event) => event.type === 'stdout').map((event) => event.data)).toEqual(Array.from({ length: 30 }, (_, i) => ({ line: `drip ${i + 1}` })));
    expect((await client.getRun(run.id)).node).toBe('worker');
    expect((await redisComponent(api)).detail.messagesFromOtherNodes as number).toBeGreaterThan(before);
    lags.sort((a, b) => a - b);
    process.stdout.write(`cross-node stdout lag over Redis: p50 ${lags[Math.floor(lags.length / 2)]} ms, max ${lags.at(-1)} ms\n`);
  });

  it('a run submitted to the API node wakes the worker, which starts it once', async () => {
    const client = createClient({ baseUrl: api.url, token });
    const waits: number[] = [];
    for (let i = 0; i < 5; i++) {
      const run = await client.waitForRun((await client.submitRun({ agent: 'fast', prompt: `run ${i}` })).id);
      expect(run.status).toBe('succeeded');
      expect(run.node).toBe('worker');
      waits.push(Date.parse(run.startedAt!) - Date.parse(run.createdAt));
      const events = await request(api.url, 'GET', `/api/v1/runs/${run.id}/events`, { token });
      expect(events.json.items.filter((event: RunEvent) => event.type === 'status' && event.data.status === 'running')).toHaveLength(1);
    }
    waits.sort((a, b) => a - b);
    process.stdout.write(`cross-node submit → start: median ${waits[2]} ms, max ${waits[4]} ms\n`);
  });

  it('a cancel sent to the API node ends the agent on the worker', async () => {
    const client = createClient({ baseUrl: api.url, token });
    const before = (await redisComponent(worker)).detail.messagesFromOtherNodes as number;
    const run = await client.submitRun({ agent: 'sleeper', prompt: 'wait' });
    await waitFor(async () => (await client.getRun(run.id)).status === 'running', 15_000, 'the run to start');
    await client.cancelRun(run.id);
    const ended = await client.waitForRun(run.id);
    expect(ended.status).toBe('cancelled');
    expect((await redisComponent(worker)).detail.messagesFromOtherNodes as number).toBeGreaterThan(before);
  });

  it('with Redis stopped, submits succeed and streams still get every event, by polling; it reconnects when Redis is back', async () => {
    await redis.stop();
    await waitFor(async () => (await redisComponent(api)).status === 'down', 10_000, 'the API node to see Redis down');
    const down = await request(api.url, 'GET', '/health/detailed', { token: admin });
    expect(down.json.status).toBe('degraded');
    expect(down.json.components.redis.detail.message).toContain('Redis is unreachable');
    expect((await request(api.url, 'GET', '/health/ready')).status).toBe(200);

    const client = createClient({ baseUrl: api.url, token });
    const run = await client.submitRun({ agent: 'lines', prompt: 'without redis' });
    const events: RunEvent[] = [];
    for await (const event of client.followRun(run.id)) events.push(event);
    expect(events.map((event) => event.seq)).toEqual(events.map((_, i) => i + 1));
    expect(events.at(-1)).toMatchObject({ type: 'status', data: { status: 'succeeded' } });

    await redis.start();
    await waitFor(async () => (await redisComponent(api)).status === 'up' && (await redisComponent(worker)).status === 'up', 15_000, 'both nodes back on Redis');
  });

  it('a worker whose run another node recorded interrupted (it was cut off) ends the agent and records nothing more', async () => {
    const client = createClient({ baseUrl: api.url, token });
    const run = await client.submitRun({ agent: 'sleeper', prompt: 'about to be given up on' });
    await waitFor(async () => (await client.getRun(run.id)).status === 'running', 15_000, 'the run to start');
    await waitFor(() => runProcesses(run.id).length > 0, 10_000, 'the agent process');
    // What NodesService on another node writes for a run of a node it takes for dead.
    const db = new pg.Client({ connectionString: database.url! });
    await db.connect();
    try {
      await db.query("UPDATE runs SET status = 'interrupted', finished_at = $1, last_seq = last_seq + 1 WHERE id = $2", [new Date().toISOString(), run.id]);
    } finally {
      await db.end();
    }
    await waitFor(() => runProcesses(run.id).length === 0, 10_000, 'the agent to end');
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect((await client.getRun(run.id)).status).toBe('interrupted');
    const events = await request(api.url, 'GET', `/api/v1/runs/${run.id}/events`, { token });
    expect(events.json.items.filter((event: RunEvent) => event.type === 'status' && event.data.status !== 'queued' && event.data.status !== 'running')).toEqual([]);
  });

  it('a worker killed with -9: the API node records its running run interrupted within a minute, once', async () => {
    const client = createClient({ baseUrl: api.url, token });
    const run = await client.submitRun({ agent: 'sleeper', prompt: 'on a node about to die' });
    await waitFor(async () => (await client.getRun(run.id)).status === 'running', 15_000, 'the run to start');
    const killedAt = Date.now();
    process.kill(worker.pid, 'SIGKILL');
    const ended = await client.waitForRun(run.id, { retry: { retryForMs: 90_000 } });
    const tookMs = Date.now() - killedAt;
    expect(ended.status).toBe('interrupted');
    expect(ended.error).toEqual({ code: 'interrupted', message: 'node worker stopped answering while the run was running' });
    expect(tookMs).toBeLessThan(60_000);
    const events = await request(api.url, 'GET', `/api/v1/runs/${run.id}/events`, { token });
    expect(events.json.items.filter((event: RunEvent) => event.type === 'status' && ['interrupted', 'succeeded', 'failed', 'cancelled'].includes(event.data.status as string))).toHaveLength(1);
    expect(events.json.items.at(-1).data).toEqual({ status: 'interrupted', reason: 'node_lost' });
    process.stdout.write(`worker killed → run interrupted: ${tookMs} ms\n`);
  }, 90_000);
});
