import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, it } from '@jest/globals';
import pg from 'pg';
import { createClient, type Run, type RunEvent } from '@autocode/client';
import { expect } from './jest/expect.js';
import { runProcesses } from './helpers/processes.js';
import { startRedis, type RedisServer } from './helpers/redis-server.js';
import { hs256Token } from './helpers/tokens.js';
import {
  createTestDatabase,
  environment,
  FIXTURE_AGENTS,
  peakOverlap,
  request,
  startBuiltServer,
  waitFor,
  type BuiltServer,
  type TestDatabase,
} from './helpers/test-server.js';

// One API node and one worker node on the same PostgreSQL database and a Redis server of the
// test's own: events of a run on the worker reach a stream on the API node, a cancel sent to the
// API node reaches the worker, and with Redis stopped submits still succeed and wait queued until it is back.

const isFinalStatus = (status: string): boolean => !['queued', 'running'].includes(status);

const SECRET = 'cross-node-secret-'.padEnd(40, 'x');
/** 30 lines, 50 ms apart. */
const DRIP = { executor: 'command', command: [process.execPath, '-e', "let i = 0; const t = setInterval(() => { console.log('drip ' + ++i); if (i === 30) clearInterval(t); }, 50);"] };

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
    const report = await request(worker.url, 'GET', '/health/detailed', { token: admin });
    expect(report.json.components.queue.detail).toMatchObject({ adapter: 'bullmq' });
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
    const ended = await client.getRun(run.id);
    expect(ended.node).toBe('worker');
    // A run's times are honest: every event after `queued` lies between its start and its end.
    for (const event of events.slice(1)) {
      expect([event.type, ended.startedAt! <= event.ts && event.ts <= ended.finishedAt!]).toEqual([event.type, true]);
    }
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

  it('with Redis stopped, submits succeed and the runs wait queued; when Redis is back they run, and the stream gets every event', async () => {
    await redis.stop();
    await waitFor(async () => (await redisComponent(api)).status === 'down', 10_000, 'the API node to see Redis down');
    const down = await request(api.url, 'GET', '/health/detailed', { token: admin });
    expect(down.json.status).toBe('degraded');
    expect(down.json.components.redis.detail.message).toContain('Redis is unreachable');
    // The API node still takes submits; a worker gets no runs without Redis, and says so.
    expect((await request(api.url, 'GET', '/health/ready')).status).toBe(200);
    const workerReady = await waitFor(async () => {
      const ready = await request(worker.url, 'GET', '/health/ready');
      return ready.status === 503 ? ready : undefined;
    }, 10_000, 'the worker to be unready');
    expect(workerReady.json.error.redis).toMatchObject({ status: 'down' });

    const client = createClient({ baseUrl: api.url, token });
    const startedAt = Date.now();
    const run = await client.submitRun({ agent: 'lines', prompt: 'without redis' });
    expect(Date.now() - startedAt).toBeLessThan(3_000);
    const events: RunEvent[] = [];
    const followed = (async () => {
      for await (const event of client.followRun(run.id)) events.push(event);
    })();
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    expect((await client.getRun(run.id)).status).toBe('queued');

    await redis.start();
    await waitFor(async () => (await redisComponent(api)).status === 'up' && (await redisComponent(worker)).status === 'up', 15_000, 'both nodes back on Redis');
    expect((await request(worker.url, 'GET', '/health/ready')).status).toBe(200);
    // Redis came back empty: the worker's sweep of the database enqueues the run again.
    await waitFor(async () => isFinalStatus((await client.getRun(run.id)).status), 30_000, 'the run to end');
    await followed;
    expect((await client.getRun(run.id)).status).toBe('succeeded');
    expect(events.map((event) => event.seq)).toEqual(events.map((_, i) => i + 1));
    expect(events.at(-1)).toMatchObject({ type: 'status', data: { status: 'succeeded' } });
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

describe('one API node and two workers', () => {
  let redis: RedisServer;
  let database: TestDatabase;
  const nodes = new Map<string, BuiltServer>();
  const dataDirs: string[] = [];
  const admin = hs256Token(SECRET, { sub: 'ops', role: 'admin' });

  async function start(name: string, role: 'api' | 'worker'): Promise<BuiltServer> {
    const dataDir = mkdtempSync(join(tmpdir(), `autocode-${name}-`));
    dataDirs.push(dataDir);
    const server = await startBuiltServer(environment(dataDir, database, FIXTURE_AGENTS, { ROLE: role, NODE_NAME: name, JWT_SECRET: SECRET, REDIS_URL: redis.url, LOG_LEVEL: 'info', MAX_CONCURRENT_AGENTS: '2' }));
    nodes.set(name, server);
    return server;
  }

  beforeAll(async () => {
    redis = await startRedis();
    database = await createTestDatabase();
    await start('api', 'api');
    await start('worker-1', 'worker');
    await start('worker-2', 'worker');
  });
  afterAll(async () => {
    for (const server of nodes.values()) await server.stop();
    await redis?.stop();
    await database?.drop();
    for (const dir of dataDirs) rmSync(dir, { recursive: true, force: true });
  });

  it("spreads runs over both workers, and a race of 200 submits of two users keeps each within their limit of 2 at once", async () => {
    const api = nodes.get('api')!;
    const users = ['otto', 'ulla'];
    const runs: Run[] = [];
    await Promise.all(
      users.map(async (user) => {
        const quota = await request(api.url, 'PUT', `/api/v1/admin/users/${user}/quota`, { token: admin, body: { concurrent: 2, queued: 200, daily: 1000 } });
        expect(quota.status, quota.text).toBe(200);
        const client = createClient({ baseUrl: api.url, token: hs256Token(SECRET, { sub: user }) });
        const submitted = await Promise.all(Array.from({ length: 100 }, (_, i) => client.submitRun({ agent: i % 10 === 0 ? 'short' : 'fast', prompt: `burst ${i}` })));
        runs.push(...(await Promise.all(submitted.map((run) => client.waitForRun(run.id)))));
      }),
    );
    expect(runs.map((run) => run.status)).toEqual(runs.map(() => 'succeeded'));
    // Each run's output lies between its start and its end, whichever worker ran it.
    for (const run of runs.slice(0, 40)) {
      const events = await request(api.url, 'GET', `/api/v1/runs/${run.id}/events`, { token: hs256Token(SECRET, { sub: run.userId }) });
      const times = events.json.items.slice(1).map((event: RunEvent) => event.ts);
      expect(times.filter((ts: string) => ts < run.startedAt! || ts > run.finishedAt!)).toEqual([]);
    }
    for (const user of users) {
      expect(peakOverlap(runs.filter((run) => run.userId === user).map((run) => ({ startedAt: run.startedAt!, finishedAt: run.finishedAt! })))).toBeLessThanOrEqual(2);
    }
    // Four runs may run at once, and each worker has two slots: both take runs.
    const byNode = new Map<string, number>();
    for (const run of runs) byNode.set(run.node!, (byNode.get(run.node!) ?? 0) + 1);
    expect([...byNode.keys()].sort()).toEqual(['worker-1', 'worker-2']);
    process.stdout.write(`200 runs over two workers: ${[...byNode].map(([name, count]) => `${name} ${count}`).join(', ')}\n`);
  });

  it("users take turns for the workers' slots: a second user's runs start ahead of the first user's backlog", async () => {
    const api = nodes.get('api')!;
    const [first, second] = ['vera', 'walt'].map((user) => ({ user, client: createClient({ baseUrl: api.url, token: hs256Token(SECRET, { sub: user }) }) }));
    for (const { user } of [first!, second!]) {
      const quota = await request(api.url, 'PUT', `/api/v1/admin/users/${user}/quota`, { token: admin, body: { concurrent: 100, queued: 100, daily: 1000 } });
      expect(quota.status, quota.text).toBe(200);
    }
    const backlog = [];
    for (let i = 0; i < 24; i++) backlog.push(await first!.client.submitRun({ agent: 'short', prompt: `backlog ${i}` }));
    const few = [];
    for (let i = 0; i < 4; i++) few.push(await second!.client.submitRun({ agent: 'short', prompt: `few ${i}` }));
    const runs = await Promise.all([...backlog, ...few].map((run) => (run.userId === 'vera' ? first! : second!).client.waitForRun(run.id)));
    expect(runs.map((run) => run.status)).toEqual(runs.map(() => 'succeeded'));
    const order = [...runs].sort((a, b) => (a.startedAt! < b.startedAt! ? -1 : 1)).map((run) => run.userId);
    // First come, first served would start the second user's runs last (from the 25th on); taking turns, they come early.
    const lastOfSecond = order.lastIndexOf('walt');
    process.stdout.write(`fair share over BullMQ: the second user's 4 runs started by position ${lastOfSecond + 1} of ${order.length}\n`);
    expect(lastOfSecond).toBeLessThan(16);
  });

  it('SIGTERM of a worker ends its runs as a server shutdown; the other worker takes the next ones', async () => {
    const api = nodes.get('api')!;
    const client = createClient({ baseUrl: api.url, token: hs256Token(SECRET, { sub: 'pia' }) });
    const run = await client.submitRun({ agent: 'sleeper', prompt: 'on a worker about to stop' });
    const running = await waitFor(async () => {
      const current = await client.getRun(run.id);
      return current.status === 'running' ? current : undefined;
    }, 15_000, 'the run to start');
    const stopping = nodes.get(running.node!)!;
    const other = running.node === 'worker-1' ? 'worker-2' : 'worker-1';
    await stopping.stop();
    const ended = await client.waitForRun(run.id);
    expect(ended.status).toBe('cancelled');
    const events = await request(api.url, 'GET', `/api/v1/runs/${run.id}/events`, { token: hs256Token(SECRET, { sub: 'pia' }) });
    expect(events.json.items.at(-1).data).toEqual({ status: 'cancelled', reason: 'server_shutdown' });
    const next = await client.waitForRun((await client.submitRun({ agent: 'fast', prompt: 'after the stop' })).id);
    expect([next.status, next.node]).toEqual(['succeeded', other]);
  });
});
