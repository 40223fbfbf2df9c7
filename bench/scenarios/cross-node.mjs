// cross-node: one API node and two worker nodes on one PostgreSQL database (needs --db postgres), the way a
// scaled-out deployment runs. A client follows each run's event stream on the API node while a worker runs the
// agent (fixtures/lines.mjs: timestamped lines at a steady pace). Figures: the delay from a line's own timestamp
// to its arrival at the client, and from submit to the run's start, with REDIS_URL set (events, cancels and new
// runs pass between the nodes over Redis) next to the same without it (the nodes poll the database). Then runs/s end
// to end (a burst of runs of an agent that exits at once, submit to the last run's end) with 1 and 2 workers, and the
// CPU time all server processes (and Redis) spend per run: with BullMQ next to the same nodes without Redis, the
// difference being what the queue costs.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { api, cpuTime, freePort, now, onCleanup, percentile, ROOT, startServer, token, waitFor } from '../lib.mjs';
import { met, ms, times } from '../format.mjs';

const AGENT = [process.execPath, join(ROOT, 'bench', 'fixtures', 'lines.mjs')];
const RUNS = 8;
const LINES = 100;
const INTERVAL_MS = 10;
const BURST = 400;
const SUBMITTERS = 16;

async function startRedis() {
  const port = await freePort();
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
  const stop = onCleanup(async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = once(child, 'exit');
    child.kill('SIGKILL');
    await exited;
  });
  await waitFor('redis-server', async () => {
    const probe = spawn('redis-cli', ['-p', String(port), 'ping'], { stdio: ['ignore', 'pipe', 'ignore'] });
    let out = '';
    probe.stdout.on('data', (chunk) => (out += chunk));
    await once(probe, 'close');
    return out.trim() === 'PONG';
  });
  return { url: `redis://127.0.0.1:${port}`, pid: child.pid, stop };
}

/** Follows one run's SSE stream to its end; answers each stdout line's delay (arrival − the time in the line). */
async function follow(url, runId, bearer) {
  const response = await fetch(`${url}/api/v1/runs/${runId}/events`, { headers: { authorization: `Bearer ${bearer}`, accept: 'text/event-stream' } });
  const decoder = new TextDecoder();
  const delays = [];
  let buffer = '';
  for await (const chunk of response.body) {
    const arrived = now();
    buffer += decoder.decode(chunk, { stream: true });
    let end;
    while ((end = buffer.indexOf('\n\n')) !== -1) {
      const frame = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const data = frame.split('\n').find((line) => line.startsWith('data: '));
      if (!data) continue;
      const event = JSON.parse(data.slice(6));
      if (event.type === 'stdout') delays.push(arrived - Number(event.data.line.split(' ')[1]));
    }
  }
  return delays;
}

async function measure(ctx, database, redisUrl) {
  const env = { DATABASE_URL: database.url, SANDBOX: ctx.sandbox, ...(redisUrl ? { REDIS_URL: redisUrl } : {}) };
  const agents = { lines: { command: AGENT } };
  const nodes = [];
  try {
    nodes.push(await startServer({ ...env, ROLE: 'api', NODE_NAME: 'api' }, { agents }));
    for (const name of ['worker-1', 'worker-2']) nodes.push(await startServer({ ...env, ROLE: 'worker', NODE_NAME: name, MAX_CONCURRENT_AGENTS: '4' }, { agents }));
    const [apiNode] = nodes;
    const user = `bench-cross-${redisUrl ? 'redis' : 'polling'}`;
    const bearer = token(user);
    await api(apiNode.url, 'PUT', `/api/v1/admin/users/${user}/quota`, token('bench-admin', true), { concurrent: 100, daily: 1_000_000, queued: 100_000 });
    const delays = [];
    const starts = [];
    const workersUsed = new Set();
    for (let i = 0; i < RUNS; i++) {
      const submitted = await api(apiNode.url, 'POST', '/api/v1/runs', bearer, { agent: 'lines', prompt: JSON.stringify({ lines: LINES, intervalMs: INTERVAL_MS }) });
      delays.push(...(await follow(apiNode.url, submitted.id, bearer)));
      const run = await api(apiNode.url, 'GET', `/api/v1/runs/${submitted.id}`, bearer);
      if (run.status !== 'succeeded') throw new Error(`run ${run.id} ended ${run.status}`);
      starts.push(Date.parse(run.startedAt) - Date.parse(run.createdAt));
      workersUsed.add(run.node);
    }
    return { delays, starts, workersUsed: [...workersUsed].sort() };
  } finally {
    for (const node of nodes.reverse()) await node.stop();
  }
}

/** A burst of BURST runs of an agent that exits at once: runs/s from the first submit to the last end, and CPU ms per run. */
async function endToEnd(ctx, database, redis, workers) {
  const env = { DATABASE_URL: database.url, SANDBOX: ctx.sandbox, ...(redis ? { REDIS_URL: redis.url } : {}) };
  const nodes = [];
  try {
    nodes.push(await startServer({ ...env, ROLE: 'api', NODE_NAME: 'api' }));
    for (let i = 1; i <= workers; i++) nodes.push(await startServer({ ...env, ROLE: 'worker', NODE_NAME: `worker-${i}`, MAX_CONCURRENT_AGENTS: '4' }));
    const [apiNode] = nodes;
    const user = `bench-burst-${redis ? 'redis' : 'polling'}-${workers}`;
    const bearer = token(user);
    await api(apiNode.url, 'PUT', `/api/v1/admin/users/${user}/quota`, token('bench-admin', true), { concurrent: 1000, daily: 1_000_000, queued: 100_000 });
    const pids = [...nodes.map((node) => node.pid), ...(redis ? [redis.pid] : [])];
    const cpu = () => pids.reduce((sum, pid) => sum + cpuTime(pid), 0);
    const cpu0 = cpu();
    const started = now();
    let next = 0;
    await Promise.all(
      Array.from({ length: SUBMITTERS }, async () => {
        while (next < BURST) {
          next++;
          await api(apiNode.url, 'POST', '/api/v1/runs', bearer, { prompt: 'burst' });
        }
      }),
    );
    await waitFor(
      'the burst to end',
      async () => {
        const quota = await api(apiNode.url, 'GET', '/api/v1/quota', bearer);
        return quota.concurrent.used === 0 && quota.queued.used === 0;
      },
      { timeoutMs: 300_000, intervalMs: 20 },
    );
    const seconds = (now() - started) / 1000;
    return { runsPerSecond: BURST / seconds, cpuMsPerRun: (cpu() - cpu0) / BURST };
  } finally {
    for (const node of nodes.reverse()) await node.stop();
  }
}

export async function run(ctx) {
  if (ctx.db !== 'postgres') throw new Error('cross-node needs --db postgres: several nodes share one PostgreSQL database');
  const database = await ctx.database();
  const redis = await startRedis();
  try {
    const withRedis = await measure(ctx, { url: database.env.DATABASE_URL }, redis.url);
    const polling = await measure(ctx, { url: database.env.DATABASE_URL }, null);
    const bursts = {};
    for (const workers of [1, 2]) {
      bursts[`redis-${workers}`] = await endToEnd(ctx, { url: database.env.DATABASE_URL }, redis, workers);
      bursts[`polling-${workers}`] = await endToEnd(ctx, { url: database.env.DATABASE_URL }, null, workers);
    }
    const p = (values, q) => percentile(values, q);
    const rate = (value) => `${value.toFixed(0)}/s`;
    const cpuMs = (value) => `${value.toFixed(2)} ms`;
    const rows = [
      { figure: `stdout line → client on the API node, p50 (1 API + 2 workers, ${RUNS} runs × ${LINES} lines)`, measured: ms(p(withRedis.delays, 50)), reference: ms(p(polling.delays, 50)), ratio: times(p(withRedis.delays, 50), p(polling.delays, 50)), target: '', met: '' },
      { figure: '… p99 (reference: the same nodes without Redis, polling the database)', measured: ms(p(withRedis.delays, 99)), reference: ms(p(polling.delays, 99)), ratio: times(p(withRedis.delays, 99), p(polling.delays, 99)), target: '≤ 50 ms', met: met(p(withRedis.delays, 99) <= 50) },
      { figure: 'submit on the API node → started on a worker, p50', measured: ms(p(withRedis.starts, 50)), reference: ms(p(polling.starts, 50)), ratio: times(p(withRedis.starts, 50), p(polling.starts, 50)), target: '', met: '' },
      ...[1, 2].map((workers) => ({
        figure: `runs/s end to end, ${BURST} runs of an agent that exits at once, 1 API + ${workers} worker${workers > 1 ? 's' : ''} × 4 slots`,
        measured: rate(bursts[`redis-${workers}`].runsPerSecond),
        reference: rate(bursts[`polling-${workers}`].runsPerSecond),
        ratio: times(bursts[`redis-${workers}`].runsPerSecond, bursts[`polling-${workers}`].runsPerSecond),
        target: '',
        met: '',
      })),
      {
        figure: 'server CPU per run, all nodes (+ Redis), 2 workers (reference: without Redis; the difference is the queue\'s cost)',
        measured: cpuMs(bursts['redis-2'].cpuMsPerRun),
        reference: cpuMs(bursts['polling-2'].cpuMsPerRun),
        ratio: times(bursts['redis-2'].cpuMsPerRun, bursts['polling-2'].cpuMsPerRun),
        target: '',
        met: '',
      },
    ];
    return { rows, details: { withRedis, polling, bursts } };
  } finally {
    await redis.stop();
    await database.release();
  }
}
