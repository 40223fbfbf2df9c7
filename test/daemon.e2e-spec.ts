import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from '@jest/globals';
import { expect } from './jest/expect.js';
import { stringify } from 'yaml';
import { isAlive, liveGroupMembers, runProcesses } from './helpers/processes.js';
import {
  cli,
  createTestDatabase,
  DIST,
  environment,
  FIXTURE_AGENTS,
  freePort,
  request,
  waitFor,
  type TestDatabase,
} from './helpers/test-server.js';

// The server as a process: PID file, signals, the shutdown sequence, crash recovery,
// and `autocode server start|stop|status`.




describe('the server process', () => {
  let dataDir: string;
  let database: TestDatabase;
  let env: Record<string, string>;
  let url: string;
  const children: ChildProcess[] = [];

  beforeEach(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'autocode-daemon-'));
    database = await createTestDatabase();
    const port = await freePort();
    env = { ...environment(dataDir, database, FIXTURE_AGENTS), PORT: String(port), SHUTDOWN_GRACE_SECONDS: '2', LOG_LEVEL: 'info' };
    url = `http://127.0.0.1:${port}`;
  });

  afterEach(async () => {
    for (const child of children.splice(0)) {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGKILL');
        await once(child, 'exit');
      }
    }
    cli(env, 'server', 'stop', '--timeout', '5');
    await database.drop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  async function serve(extra: Record<string, string> = {}): Promise<{ child: ChildProcess; output: () => string }> {
    const child = spawn(process.execPath, [join(DIST, 'main.js')], { env: { ...env, ...extra }, stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(child);
    let output = '';
    child.stdout!.on('data', (chunk) => (output += chunk));
    child.stderr!.on('data', (chunk) => (output += chunk));
    await waitFor(async () => (child.exitCode !== null ? 'exited' : (await ready()) === 200), 30_000, 'the server to be ready');
    if (child.exitCode !== null) throw new Error(`the server exited: ${output}`);
    return { child, output: () => output };
  }

  async function ready(): Promise<number> {
    try {
      return (await fetch(`${url}/health/ready`)).status;
    } catch {
      return 0;
    }
  }

  function token(user: string): string {
    return cli(env, 'token', 'create', '--user', user).stdout.trim();
  }

  async function startAgents(bearer: string, agent: string, count: number): Promise<{ id: string; pid: number }[]> {
    const ids: string[] = [];
    for (let i = 0; i < count; i++) {
      const response = await request(url, 'POST', '/api/v1/runs', { token: bearer, body: { agent, prompt: `agent ${i}` } });
      expect(response.status, response.text).toBe(202);
      ids.push(response.json.id);
    }
    return Promise.all(
      ids.map(async (id) => ({
        id,
        pid: await waitFor(async () => {
          const items = (await request(url, 'GET', `/api/v1/runs/${id}/events`, { token: bearer })).json.items as { type: string; data: { line?: string } }[];
          const started = items.find((e) => e.type === 'stdout' && e.data.line?.startsWith('started'));
          return started ? Number(started.data.line!.split(' ')[1]) : undefined;
        }, 20_000, `run ${id} to start its agent`),
      })),
    );
  }

  it('start, status, a refused second start, stop, status', async () => {
    const started = cli(env, 'server', 'start', '--wait', '30');
    expect(started.status, started.stderr).toBe(0);
    expect(started.stdout).toMatch(/^started: pid \d+, http:\/\/127\.0\.0\.1:\d+, log .*server\.log/);
    const status = cli(env, 'server', 'status', '--json');
    expect(status.status).toBe(0);
    const report = JSON.parse(status.stdout);
    expect(report).toMatchObject({ running: true, url, activeRuns: 0 });
    expect(isAlive(report.pid)).toBe(true);
    // With the Node flags of `npm start`, the systemd unit and the image.
    expect(readFileSync(`/proc/${report.pid}/cmdline`, 'utf8').split('\0')).toContain('--max-semi-space-size=4');

    const again = cli(env, 'server', 'start');
    expect(again.status).toBe(1);
    expect(again.stderr).toContain('already running');
    // Starting the server directly on the same DATA_DIR is refused too, before it touches anything.
    const direct = spawnSync(process.execPath, [join(DIST, 'main.js')], { env: { ...env, PORT: '0' }, encoding: 'utf8', timeout: 30_000 });
    expect(direct.status).toBe(1);
    expect(direct.stderr).toMatch(/^autocode: a server is already running on this data directory \(pid \d+/);

    expect(cli(env, 'server', 'logs', '-n', '5').stdout).toContain('listening on');
    const stopped = cli(env, 'server', 'stop');
    expect(stopped.status, stopped.stderr).toBe(0);
    expect(isAlive(report.pid)).toBe(false);
    const after = cli(env, 'server', 'status');
    expect(after.status).toBe(3);
    expect(after.stdout).toBe('not running\n');
  });

  it("server start with its port taken: fails with the server's own last log line and leaves nothing behind; starts once the port is free", async () => {
    // Not spawnSync: the port's holder, in this process, must answer while the command runs.
    const start = async (): Promise<{ status: number | null; stdout: string; stderr: string }> => {
      const command = spawn(process.execPath, [join(DIST, 'cli.js'), 'server', 'start', '--wait', '30'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      command.stdout!.on('data', (chunk) => (stdout += chunk));
      command.stderr!.on('data', (chunk) => (stderr += chunk));
      const [status] = await once(command, 'close');
      return { status, stdout, stderr };
    };
    // An impostor that answers every request 200, readiness included.
    const holder = createServer((socket) => socket.once('data', () => socket.end('HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok')));
    holder.listen(Number(env.PORT), '127.0.0.1');
    await once(holder, 'listening');
    try {
      for (let attempt = 0; attempt < 2; attempt++) {
        const failed = await start();
        expect(failed.status, failed.stdout).toBe(1);
        expect(failed.stdout).toBe('');
        const reported = /the server \(pid (\d+)\) exited during start \(exit status 1\): autocode: listen EADDRINUSE: address already in use 127\.0\.0\.1:\d+\n/.exec(failed.stderr);
        expect(reported, failed.stderr).not.toBeNull();
        expect(isAlive(Number(reported![1]))).toBe(false);
        const status = cli(env, 'server', 'status');
        expect(status.status, status.stderr).toBe(3);
        expect(status.stdout).toBe('not running\n');
        expect(existsSync(join(dataDir, 'autocode.pid'))).toBe(false);
        expect(existsSync(join(dataDir, 'server.json'))).toBe(false);
      }
    } finally {
      await new Promise((resolve) => holder.close(resolve));
    }

    const started = await start();
    expect(started.status, started.stderr).toBe(0);
    const pid = Number(/^started: pid (\d+), /.exec(started.stdout)?.[1]);
    expect(JSON.parse(cli(env, 'server', 'status', '--json').stdout)).toMatchObject({ running: true, pid });
    const stopped = cli(env, 'server', 'stop');
    expect(stopped.status, stopped.stderr).toBe(0);
    expect(isAlive(pid)).toBe(false);
    expect(cli(env, 'server', 'status').status).toBe(3);
  });

  it('replaces a stale PID file', async () => {
    writeFileSync(join(dataDir, 'autocode.pid'), '999999 12345\n');
    const { child } = await serve();
    expect(child.exitCode).toBeNull();
  });

  it('SIGTERM: readiness down at once, submits refused, agents cancelled and recorded, exit 0', async () => {
    const { child } = await serve({ MAX_CONCURRENT_AGENTS: '4' });
    const bearer = token('sigterm-user');
    const runs = await startAgents(bearer, 'trap', 3);
    const signalledAt = Date.now();
    child.kill('SIGTERM');
    await waitFor(async () => (await ready()) === 503, 1_000, 'readiness to turn 503');
    expect(Date.now() - signalledAt).toBeLessThan(1_000);
    const refused = await request(url, 'POST', '/api/v1/runs', { token: bearer, body: { agent: 'lines', prompt: 'too late' } });
    expect(refused.status).toBe(503);
    expect(refused.json.code).toBe('shutting_down');
    const [code] = await once(child, 'exit');
    expect(code).toBe(0);
    expect(Date.now() - signalledAt).toBeLessThan(30_000);
    for (const run of runs) {
      expect(isAlive(run.pid)).toBe(false);
      expect(liveGroupMembers(run.pid)).toEqual([]);
    }

    await serve();
    for (const run of runs) {
      const detail = await request(url, 'GET', `/api/v1/runs/${run.id}`, { token: bearer });
      expect(detail.json).toMatchObject({ status: 'cancelled' });
      const items = (await request(url, 'GET', `/api/v1/runs/${run.id}/events`, { token: bearer })).json.items;
      expect(items.map((e: { seq: number }) => e.seq)).toEqual(items.map((_: unknown, i: number) => i + 1));
      expect(items.some((e: { data: { line?: string } }) => e.data.line === 'ignoring SIGTERM')).toBe(true);
      expect(items.at(-1)).toMatchObject({ type: 'status', data: { status: 'cancelled', reason: 'server_shutdown' } });
    }
  });

  it('a second SIGTERM during shutdown kills the agents at once and still records them', async () => {
    const { child } = await serve({ SHUTDOWN_GRACE_SECONDS: '60' });
    const bearer = token('impatient');
    const [run] = await startAgents(bearer, 'trap', 1);
    child.kill('SIGTERM');
    await waitFor(async () => (await ready()) === 503, 2_000, 'readiness to turn 503');
    const secondAt = Date.now();
    child.kill('SIGTERM');
    const [code] = await once(child, 'exit');
    expect(code).toBe(1);
    expect(Date.now() - secondAt).toBeLessThan(10_000);
    expect(isAlive(run!.pid)).toBe(false);
    await serve();
    const detail = await request(url, 'GET', `/api/v1/runs/${run!.id}`, { token: bearer });
    expect(detail.json).toMatchObject({ status: 'cancelled' });
  });

  it('SHUTDOWN_MODE=drain lets running agents finish before the deadline', async () => {
    const { child } = await serve({ SHUTDOWN_MODE: 'drain', SHUTDOWN_TIMEOUT_SECONDS: '20' });
    const bearer = token('drainer');
    const submitted = await request(url, 'POST', '/api/v1/runs', { token: bearer, body: { agent: 'short', prompt: 'finish me' } });
    await waitFor(async () => (await request(url, 'GET', `/api/v1/runs/${submitted.json.id}`, { token: bearer })).json.status === 'running');
    child.kill('SIGTERM');
    const [code] = await once(child, 'exit');
    expect(code).toBe(0);
    await serve();
    expect((await request(url, 'GET', `/api/v1/runs/${submitted.json.id}`, { token: bearer })).json.status).toBe('succeeded');
  });

  it('SIGHUP: a new profile is listed and usable, and a running run is unaffected', async () => {
    const { child } = await serve();
    const bearer = token('reloader');
    const [running] = await startAgents(bearer, 'sleeper', 1);
    writeFileSync(env.AGENTS_FILE!, stringify({ default: 'lines', agents: { ...FIXTURE_AGENTS, newcomer: { command: ['/bin/echo', 'new {prompt}'] } } }));
    child.kill('SIGHUP');
    await waitFor(async () => {
      const agents = await request(url, 'GET', '/api/v1/agents', { token: bearer });
      return agents.json.items.some((item: { name: string }) => item.name === 'newcomer');
    }, 10_000, 'the new profile');
    const submitted = await request(url, 'POST', '/api/v1/runs', { token: bearer, body: { agent: 'newcomer', prompt: 'hello' } });
    expect(submitted.status).toBe(202);
    await waitFor(async () => (await request(url, 'GET', `/api/v1/runs/${submitted.json.id}`, { token: bearer })).json.status === 'succeeded');
    expect((await request(url, 'GET', `/api/v1/runs/${submitted.json.id}/logs`, { token: bearer })).text).toBe('new hello\n');
    expect((await request(url, 'GET', `/api/v1/runs/${running!.id}`, { token: bearer })).json.status).toBe('running');
    expect(isAlive(running!.pid)).toBe(true);
    expect(child.exitCode).toBeNull();
  });

  it('kill -9 with agents running: after restart they are interrupted, their groups gone, their slots free', async () => {
    const { child } = await serve({ MAX_CONCURRENT_AGENTS: '4' });
    const bearer = token('crash-user');
    const runs = await startAgents(bearer, 'sleeper', 3);
    child.kill('SIGKILL');
    await once(child, 'exit');
    for (const run of runs) expect(isAlive(run.pid)).toBe(true);

    await serve();
    const readyAt = Date.now();
    await waitFor(async () => {
      const statuses = await Promise.all(runs.map(async (run) => (await request(url, 'GET', `/api/v1/runs/${run.id}`, { token: bearer })).json.status));
      return statuses.every((status) => status === 'interrupted');
    }, 5_000, 'the runs to be interrupted');
    expect(Date.now() - readyAt).toBeLessThan(5_000);
    for (const run of runs) expect(liveGroupMembers(run.pid)).toEqual([]);
    const quota = await request(url, 'GET', '/api/v1/quota', { token: bearer });
    expect(quota.json.concurrent.used).toBe(0);
    expect(quota.json.queued.used).toBe(0);
  });

  it('kill -9 with agents whose whole trees ignore SIGTERM: the restart listens at once, ends them all within one grace period, and starts what was submitted meanwhile only after', async () => {
    const grace = 5;
    const { child } = await serve({ MAX_CONCURRENT_AGENTS: '4' });
    // The standard tier runs 3 at once: one user at their limit, another with one run.
    const [full, other] = [token('crash-full'), token('crash-other')];
    const leftovers = [...(await startAgents(full, 'trapTree', 3)), ...(await startAgents(other, 'trapTree', 1))];
    child.kill('SIGKILL');
    await once(child, 'exit');
    for (const run of leftovers) expect(runProcesses(run.id)).toHaveLength(3);

    const startedAt = Date.now();
    const restarted = spawn(process.execPath, [join(DIST, 'main.js')], { env: { ...env, MAX_CONCURRENT_AGENTS: '4', SHUTDOWN_GRACE_SECONDS: String(grace) }, stdio: 'ignore' });
    children.push(restarted);
    const live = async (): Promise<boolean> => (await fetch(`${url}/health/live`).catch(() => null))?.status === 200;
    await waitFor(async () => restarted.exitCode !== null || (await live()), 60_000, 'the restarted server to be live');
    expect(restarted.exitCode).toBeNull();
    const liveMs = Date.now() - startedAt;
    console.log(`restart with ${leftovers.length} leftovers ignoring SIGTERM, grace ${grace} s: live after ${liveMs} ms`);
    // Ending them one after another took a grace period each before the server even listened.
    expect(liveMs).toBeLessThan(2 * grace * 1000);
    const recovering = await request(url, 'GET', '/health/ready');
    expect(recovering.status, recovering.text).toBe(503);
    expect(recovering.json.error.recovery).toMatchObject({ status: 'down', message: expect.stringMatching(/run\(s\) left running by an unclean stop|looking for runs/) });
    // Accepted while the leftovers are being ended, started only once they are.
    const submitted = await Promise.all(
      [full, other].map(async (bearer) => {
        const response = await request(url, 'POST', '/api/v1/runs', { token: bearer, body: { agent: 'short', prompt: 'during recovery' } });
        expect(response.status, response.text).toBe(202);
        return { bearer, id: response.json.id as string };
      }),
    );
    await waitFor(async () => (await ready()) === 200, 60_000, 'the restarted server to be ready');
    const readyMs = Date.now() - startedAt;
    console.log(`restart with ${leftovers.length} leftovers ignoring SIGTERM, grace ${grace} s: ready after ${readyMs} ms`);
    expect(readyMs).toBeGreaterThanOrEqual(grace * 1000);
    expect(readyMs).toBeLessThan((grace + 8) * 1000);

    const finishedAt: number[] = [];
    for (const run of leftovers) {
      const detail = await request(url, 'GET', `/api/v1/runs/${run.id}`, { token: leftovers.indexOf(run) < 3 ? full : other });
      expect(detail.json).toMatchObject({ status: 'interrupted', error: { code: 'interrupted' } });
      finishedAt.push(Date.parse(detail.json.finishedAt));
      expect(runProcesses(run.id)).toEqual([]);
      expect(liveGroupMembers(run.pid)).toEqual([]);
    }
    for (const run of submitted) {
      const done = await waitFor(async () => {
        const detail = (await request(url, 'GET', `/api/v1/runs/${run.id}`, { token: run.bearer })).json;
        return detail.status === 'succeeded' ? detail : undefined;
      }, 20_000, `run ${run.id} to succeed`);
      expect(Date.parse(done.startedAt)).toBeGreaterThanOrEqual(Math.max(...finishedAt));
    }
  });

  it('kill -9 with a webhook delivery pending: after restart it is sent, signed, once it is due', async () => {
    const received: string[] = [];
    let answer = 503;
    const receiver = createHttpServer((req, res) => {
      let body = '';
      req.on('data', (chunk: Buffer) => (body += chunk));
      req.on('end', () => {
        received.push(`${answer} ${req.headers['webhook-id']} ${body}`);
        res.writeHead(answer).end();
      });
    });
    receiver.listen(0, '127.0.0.1');
    await once(receiver, 'listening');
    try {
      const hookEnv = { WEBHOOK_ALLOW_PRIVATE_NETWORKS: 'true' };
      const first = await serve(hookEnv);
      const bearer = token('hook-user');
      const created = await request(url, 'POST', '/api/v1/webhooks', { token: bearer, body: { url: `http://127.0.0.1:${(receiver.address() as { port: number }).port}/`, events: ['run.succeeded'] } });
      expect(created.status, created.text).toBe(201);
      const submitted = await request(url, 'POST', '/api/v1/runs', { token: bearer, body: { agent: 'fast', prompt: 'hook' } });
      expect(submitted.status, submitted.text).toBe(202);
      // The first attempt is refused; the next is 5 s (± 20 %) away when the server dies.
      await waitFor(() => received.length === 1, 15_000, 'the first attempt');
      // Killed once the refusal is recorded: a delivery cut off mid-attempt waits out its 60 s lease instead.
      await waitFor(async () => {
        const page = await request(url, 'GET', `/api/v1/webhooks/${created.json.id}/deliveries`, { token: bearer });
        return page.json.items[0]?.lastStatusCode === 503;
      }, 15_000, 'the refused attempt to be recorded');
      first.child.kill('SIGKILL');
      await once(first.child, 'exit');
      answer = 204;
      await serve(hookEnv);
      await waitFor(() => received.length === 2, 20_000, 'the delivery after the restart');
      const [refused, delivered] = received.map((line) => line.split(' '));
      expect(delivered![0]).toBe('204');
      expect(delivered![1]).toBe(refused![1]);
      const payload = JSON.parse(received[1]!.split(' ').slice(2).join(' '));
      expect(payload).toMatchObject({ type: 'run.succeeded', data: { run: { id: submitted.json.id, status: 'succeeded' } } });
      const deliveries = await request(url, 'GET', `/api/v1/webhooks/${created.json.id}/deliveries`, { token: bearer });
      expect(deliveries.json.items).toEqual([expect.objectContaining({ status: 'succeeded', attempts: 2, lastStatusCode: 204 })]);
    } finally {
      receiver.close();
    }
  });
});
