import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, it } from '@jest/globals';
import { expect } from './jest/expect.js';
import { liveGroupMembers, isAlive } from './helpers/processes.js';
import { readSse } from './helpers/sse.js';
import {
  createTestDatabase,
  disposeTestServer,
  environment,
  FIXTURE_AGENTS,
  peakOverlap,
  startTestServer,
  waitFor,
  waitForStatus,
  type TestServer,
} from './helpers/test-server.js';

// The life of a run, end to end: real HTTP, real child processes, the real database
// (SQLite here; PostgreSQL when the services suite runs this file).

describe('run lifecycle', () => {
  let server: TestServer;
  let token: string;

  beforeAll(async () => {
    server = await startTestServer();
    token = server.token('alice');
  });
  afterAll(async () => disposeTestServer(server));

  async function submit(body: Record<string, unknown>): Promise<string> {
    const response = await server.request('POST', '/api/v1/runs', { token, body });
    expect(response.status, response.text).toBe(202);
    return response.json.id as string;
  }

  async function events(runId: string): Promise<{ seq: number; type: string; data: Record<string, unknown> }[]> {
    const response = await server.request('GET', `/api/v1/runs/${runId}/events?limit=1000`, { token });
    expect(response.status).toBe(200);
    return response.json.items;
  }

  it('runs an agent to success, with its output as ordered events and a log', async () => {
    const id = await submit({ agent: 'lines', prompt: 'count to five' });
    const run = await waitForStatus(server, token, id, ['succeeded', 'failed']);
    expect(run).toMatchObject({ status: 'succeeded', exitCode: 0, error: null, userId: 'alice', agent: 'lines', node: 'test-node' });
    expect(run.durationMs).toBeGreaterThanOrEqual(0);

    const list = await events(id);
    expect(list.map((e) => e.seq)).toEqual(list.map((_, i) => i + 1));
    expect(list.filter((e) => e.type === 'status').map((e) => e.data.status)).toEqual(['queued', 'running', 'succeeded']);
    expect(list.filter((e) => e.type === 'stdout').map((e) => e.data.line)).toEqual(['line 1', 'line 2', 'line 3', 'line 4', 'line 5']);
    expect(list.find((e) => e.type === 'stderr')?.data.line).toBe('done on stderr');

    const log = await server.request('GET', `/api/v1/runs/${id}/logs`, { token });
    expect(log.status).toBe(200);
    expect(log.headers.get('content-type')).toMatch(/^text\/plain/);
    expect(log.text).toContain('line 1\nline 2\nline 3\nline 4\nline 5\n');
    expect(log.text).toContain('done on stderr\n');
  });

  it('keeps the output of an agent that exits at once', async () => {
    const ids = await Promise.all(Array.from({ length: 10 }, (_, i) => submit({ agent: 'fast', prompt: `n${i}` })));
    for (const [i, id] of ids.entries()) {
      await waitForStatus(server, token, id, ['succeeded', 'failed']);
      const lines = (await events(id)).filter((e) => e.type === 'stdout').map((e) => e.data.line);
      expect(lines).toEqual([`fast n${i}`]);
    }
  });

  it('passes the prompt as one argv element, on stdin and in AUTOCODE_PROMPT, with an allowlisted environment', async () => {
    process.env.AUTOCODE_TEST_PASSTHROUGH = 'passed';
    const prompt = 'fix it; rm -rf / $(whoami) "quoted" \n second line';
    const id = await submit({ agent: 'echo', prompt, model: 'some-model' });
    await waitForStatus(server, token, id, ['succeeded', 'failed']);
    const line = (await events(id)).find((e) => e.type === 'stdout')!.data.line as string;
    const seen = JSON.parse(line);
    expect(seen.argv).toEqual([`--prompt=${prompt}`, 'some-model']);
    expect(seen.stdin).toBe(prompt);
    expect(seen.env.AUTOCODE_PROMPT).toBe(prompt);
    expect(seen.env.AUTOCODE_RUN_ID).toBe(id);
    expect(seen.env.AUTOCODE_TEST_PASSTHROUGH).toBe('passed');
    expect(seen.env.HOME.startsWith(join(server.dataDir, 'users', 'alice', 'home'))).toBe(true);
    expect(seen.cwd).toBe(join(server.dataDir, 'users', 'alice', 'runs', id));
    for (const secret of ['JWT_SECRET', 'DATABASE_URL', 'AGENTS_FILE', 'DATA_DIR']) expect(seen.env[secret]).toBeUndefined();
  });

  it('parses JSON-lines output into typed events and the run result', async () => {
    const id = await submit({ agent: 'jsonl', prompt: 'go' });
    const run = await waitForStatus(server, token, id, ['succeeded', 'failed']);
    expect(run.result).toEqual({ summary: 'Fixed it', costUsd: 0.0123, inputTokens: 1200, outputTokens: 340, turns: 3 });
    const types = (await events(id)).map((e) => e.type);
    expect(types).toEqual(['status', 'status', 'message', 'tool_use', 'tool_result', 'stdout', 'result', 'status']);
  });

  it('records a failing agent as failed with its exit code', async () => {
    const id = await submit({ agent: 'fail', prompt: 'fail please' });
    const run = await waitForStatus(server, token, id, ['succeeded', 'failed']);
    expect(run).toMatchObject({ status: 'failed', exitCode: 3, error: { code: 'agent_failed' } });
  });

  it('fails a run whose agent cannot be started', async () => {
    const id = await submit({ agent: 'missing', prompt: 'x' });
    const run = await waitForStatus(server, token, id, ['succeeded', 'failed']);
    expect(run).toMatchObject({ status: 'failed', exitCode: null, error: { code: 'agent_not_started' } });
  });

  it('times a run out and ends its process group', async () => {
    const id = await submit({ agent: 'trap', prompt: 'sleep', timeoutSeconds: 1 });
    const running = await waitFor(async () => {
      const list = await events(id);
      const started = list.find((e) => e.type === 'stdout' && String(e.data.line).startsWith('started'));
      return started ? Number(String(started.data.line).split(' ')[1]) : undefined;
    });
    const run = await waitForStatus(server, token, id, ['timed_out', 'failed', 'succeeded']);
    expect(run.status).toBe('timed_out');
    expect(liveGroupMembers(running)).toEqual([]);
    const last = (await events(id)).at(-1)!;
    expect(last).toMatchObject({ type: 'status', data: { status: 'timed_out', reason: 'timeout' } });
  });

  it('cancels a running agent and every process it started', async () => {
    const id = await submit({ agent: 'tree', prompt: 'spawn' });
    const pids = await waitFor(async () => {
      const line = (await events(id)).find((e) => e.type === 'stdout' && String(e.data.line).startsWith('pids '));
      return line ? String(line.data.line).split(' ').slice(1).map(Number) : undefined;
    });
    expect(pids).toHaveLength(3);
    expect(pids.every(isAlive)).toBe(true);
    const cancel = await server.request('POST', `/api/v1/runs/${id}/cancel`, { token });
    expect(cancel.status).toBe(202);
    expect(cancel.json.cancelRequested).toBe(true);
    const run = await waitForStatus(server, token, id, ['cancelled', 'failed', 'succeeded']);
    expect(run.status).toBe('cancelled');
    expect(pids.filter(isAlive)).toEqual([]);
    expect(liveGroupMembers(pids[0]!)).toEqual([]);
    const again = await server.request('POST', `/api/v1/runs/${id}/cancel`, { token });
    expect(again.status).toBe(409);
    expect(again.json.code).toBe('run_finished');
  });

  it('cancels an agent that traps SIGTERM by killing its group after the grace period', async () => {
    const id = await submit({ agent: 'trap', prompt: 'sleep' });
    const pid = await waitFor(async () => {
      const started = (await events(id)).find((e) => e.type === 'stdout' && String(e.data.line).startsWith('started'));
      return started ? Number(String(started.data.line).split(' ')[1]) : undefined;
    });
    await server.request('POST', `/api/v1/runs/${id}/cancel`, { token });
    const run = await waitForStatus(server, token, id, ['cancelled', 'failed', 'succeeded']);
    expect(run.status).toBe('cancelled');
    expect(isAlive(pid)).toBe(false);
    expect(liveGroupMembers(pid)).toEqual([]);
    expect((await events(id)).some((e) => e.type === 'stdout' && e.data.line === 'ignoring SIGTERM')).toBe(true);
  });

  it('replays exactly the missing events after Last-Event-ID, then closes after the final status', async () => {
    const id = await submit({ agent: 'many', prompt: 'lots' });
    await waitForStatus(server, token, id, ['succeeded']);
    const all = await events(id);
    expect(all.length).toBe(300 + 1 + 3);
    const replay = await readSse(`${server.url}/api/v1/runs/${id}/events`, { token, lastEventId: '100' });
    expect(replay.status).toBe(200);
    expect(replay.contentType).toMatch(/^text\/event-stream/);
    expect(replay.closedByServer).toBe(true);
    expect(replay.events.map((e) => Number(e.id))).toEqual(all.filter((e) => e.seq > 100).map((e) => e.seq));
    expect(replay.events.map((e) => JSON.parse(e.data))).toEqual(all.filter((e) => e.seq > 100));
    expect(replay.events.at(-1)!.event).toBe('status');

    const fromQuery = await readSse(`${server.url}/api/v1/runs/${id}/events?after=300`, { token });
    expect(fromQuery.events.map((e) => Number(e.id))).toEqual(all.filter((e) => e.seq > 300).map((e) => e.seq));

    const resumedAtEnd = await readSse(`${server.url}/api/v1/runs/${id}/events`, { token, lastEventId: String(all.at(-1)!.seq), timeoutMs: 5_000 });
    expect(resumedAtEnd.closedByServer).toBe(true);
    expect(resumedAtEnd.events).toEqual([]);
  });

  it('streams a live run over SSE from the first event to the last, each once and in order, to every subscriber', async () => {
    const id = await submit({ agent: 'many', prompt: 'lots' });
    // Subscribers that are up to date share each live batch's bytes; every one must still get the whole stream.
    const streams = await Promise.all(Array.from({ length: 3 }, () => readSse(`${server.url}/api/v1/runs/${id}/events`, { token, timeoutMs: 20_000 })));
    for (const stream of streams) {
      expect(stream.closedByServer).toBe(true);
      const seqs = stream.events.map((e) => Number(e.id));
      expect(seqs).toEqual(seqs.map((_, i) => i + 1));
      expect(JSON.parse(stream.events.at(-1)!.data).data.status).toBe('succeeded');
      expect(stream.events.filter((e) => e.event === 'stdout')).toHaveLength(300);
      expect(stream.events).toEqual(streams[0]!.events);
    }
  });
});

describe('dispatch', () => {
  it('cancels a queued run before it starts', async () => {
    const server = await startTestServer({ env: { MAX_CONCURRENT_AGENTS: '1' } });
    try {
      const token = server.token('bob');
      const first = await server.request('POST', '/api/v1/runs', { token, body: { agent: 'sleeper', prompt: 'hold the slot' } });
      await waitForStatus(server, token, first.json.id, ['running']);
      const second = await server.request('POST', '/api/v1/runs', { token, body: { agent: 'lines', prompt: 'wait' } });
      expect(second.json.status).toBe('queued');
      const cancel = await server.request('POST', `/api/v1/runs/${second.json.id}/cancel`, { token });
      expect(cancel.status).toBe(202);
      expect(cancel.json).toMatchObject({ status: 'cancelled', startedAt: null });
      await server.request('POST', `/api/v1/runs/${first.json.id}/cancel`, { token });
      await waitForStatus(server, token, first.json.id, ['cancelled']);
      const after = await server.request('GET', `/api/v1/runs/${second.json.id}`, { token });
      expect(after.json).toMatchObject({ status: 'cancelled', startedAt: null, exitCode: null });
      const types = (await server.request('GET', `/api/v1/runs/${second.json.id}/events`, { token })).json.items.map(
        (e: { data: { status: string } }) => e.data.status,
      );
      expect(types).toEqual(['queued', 'cancelled']);
    } finally {
      await disposeTestServer(server);
    }
  });

  it('never runs more than MAX_CONCURRENT_AGENTS at once, and starts runs in submission order', async () => {
    const server = await startTestServer({ env: { MAX_CONCURRENT_AGENTS: '2', QUOTA_DEFAULT_TIER: 'premium' } });
    try {
      const token = server.token('carol');
      const ids: string[] = [];
      for (let i = 0; i < 5; i++) {
        const response = await server.request('POST', '/api/v1/runs', { token, body: { agent: 'short', prompt: `run ${i}` } });
        ids.push(response.json.id);
      }
      let maxRunning = 0;
      await waitFor(async () => {
        const list = await server.request('GET', '/api/v1/runs?limit=10', { token });
        const statuses: string[] = list.json.items.map((run: { status: string }) => run.status);
        maxRunning = Math.max(maxRunning, statuses.filter((s) => s === 'running').length);
        return statuses.every((s) => s === 'succeeded');
      }, 30_000, 'all five runs to succeed');
      const runs = await Promise.all(ids.map(async (id) => (await server.request('GET', `/api/v1/runs/${id}`, { token })).json));
      // From the recorded times: at no instant were more than two runs running.
      expect(peakOverlap(runs)).toBeLessThanOrEqual(2);
      expect(maxRunning).toBeLessThanOrEqual(2);
      const starts = runs.map((run) => run.startedAt as string);
      expect([...starts].sort()).toEqual(starts);
    } finally {
      await disposeTestServer(server);
    }
  });

  it("holds a user's runs at their tier's concurrency without holding back other users", async () => {
    const server = await startTestServer({ env: { MAX_CONCURRENT_AGENTS: '4', QUOTA_DEFAULT_TIER: 'free' } });
    try {
      const dave = server.token('dave');
      const erin = server.token('erin');
      const first = await server.request('POST', '/api/v1/runs', { token: dave, body: { agent: 'sleeper', prompt: 'a' } });
      await waitForStatus(server, dave, first.json.id, ['running']);
      const second = await server.request('POST', '/api/v1/runs', { token: dave, body: { agent: 'lines', prompt: 'b' } });
      const other = await server.request('POST', '/api/v1/runs', { token: erin, body: { agent: 'lines', prompt: 'c' } });
      await waitForStatus(server, erin, other.json.id, ['succeeded']);
      expect((await server.request('GET', `/api/v1/runs/${second.json.id}`, { token: dave })).json.status).toBe('queued');
      await server.request('POST', `/api/v1/runs/${first.json.id}/cancel`, { token: dave });
      await waitForStatus(server, dave, second.json.id, ['succeeded']);
    } finally {
      await disposeTestServer(server);
    }
  });
});

describe('shutdown', () => {
  it('cancels running agents as server_shutdown, keeps queued runs queued and ends event streams', async () => {
    const server = await startTestServer({ env: { MAX_CONCURRENT_AGENTS: '1' } });
    const token = server.token('heidi');
    let disposed = false;
    try {
      const running = await server.request('POST', '/api/v1/runs', { token, body: { agent: 'trap', prompt: 'hold' } });
      const pid = await waitFor(async () => {
        const items = (await server.request('GET', `/api/v1/runs/${running.json.id}/events`, { token })).json.items;
        const started = items.find((e: { type: string; data: { line?: string } }) => e.type === 'stdout' && e.data.line?.startsWith('started'));
        return started ? Number(started.data.line.split(' ')[1]) : undefined;
      });
      const queued = await server.request('POST', '/api/v1/runs', { token, body: { agent: 'lines', prompt: 'later' } });
      expect(queued.json.status).toBe('queued');
      const stream = readSse(`${server.url}/api/v1/runs/${queued.json.id}/events`, { token, timeoutMs: 20_000 });
      await new Promise((resolve) => setTimeout(resolve, 200));
      await server.close();
      const ended = await stream;
      expect(ended.closedByServer).toBe(true);
      expect(ended.events.map((e) => JSON.parse(e.data).data.status)).toEqual(['queued']);
      expect(isAlive(pid)).toBe(false);
      const restarted = await startTestServer({ dataDir: server.dataDir, database: server.database, env: { MAX_CONCURRENT_AGENTS: '1' } });
      try {
        const first = (await restarted.request('GET', `/api/v1/runs/${running.json.id}/events`, { token })).json.items.at(-1);
        expect(first).toMatchObject({ type: 'status', data: { status: 'cancelled', reason: 'server_shutdown' } });
        // The queued run survived the stop and runs after the restart.
        await waitForStatus(restarted, token, queued.json.id, ['succeeded']);
      } finally {
        disposed = true;
        await disposeTestServer(restarted);
      }
    } finally {
      if (!disposed) await disposeTestServer(server);
    }
  });
});

describe('restart', () => {
  it('marks a run left running by a killed server as interrupted and kills its agent', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'autocode-crash-'));
    const database = await createTestDatabase();
    const env = environment(dataDir, database, FIXTURE_AGENTS, { PORT: '0' });
    const child = spawn(process.execPath, [join(import.meta.dirname, '..', 'dist', 'main.js')], {
      env: { ...env, LOG_LEVEL: 'info' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    try {
      let output = '';
      child.stdout.on('data', (chunk) => (output += chunk));
      child.stderr.on('data', (chunk) => (output += chunk));
      const port = await waitFor(() => /listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(output)?.[1], 20_000, 'the server to listen');
      const base = `http://127.0.0.1:${port}`;
      const first = await startTokenOnly(env);
      const submit = await fetch(`${base}/api/v1/runs`, {
        method: 'POST',
        headers: { authorization: `Bearer ${first}`, 'content-type': 'application/json' },
        body: JSON.stringify({ agent: 'sleeper', prompt: 'sleep through the crash' }),
      });
      const run = (await submit.json()) as { id: string };
      const agentPid = await waitFor(async () => {
        const response = await fetch(`${base}/api/v1/runs/${run.id}/events`, { headers: { authorization: `Bearer ${first}` } });
        const items = ((await response.json()) as { items: { type: string; data: { line?: string } }[] }).items;
        const started = items.find((e) => e.type === 'stdout' && e.data.line?.startsWith('started'));
        return started ? Number(started.data.line!.split(' ')[1]) : undefined;
      });
      child.kill('SIGKILL');
      await once(child, 'exit');
      expect(isAlive(agentPid)).toBe(true);

      const server = await startTestServer({ dataDir, database });
      try {
        const token = server.token('frank');
        const after = await server.request('GET', `/api/v1/runs/${run.id}`, { token: first });
        expect(after.json).toMatchObject({ status: 'interrupted', error: { code: 'interrupted' } });
        expect(after.json.finishedAt).not.toBeNull();
        const items = (await server.request('GET', `/api/v1/runs/${run.id}/events`, { token: first })).json.items;
        expect(items.at(-1)).toMatchObject({ type: 'status', data: { status: 'interrupted' } });
        expect(isAlive(agentPid)).toBe(false);
        expect(token).toBeTruthy();
      } finally {
        await disposeTestServer(server);
      }
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});

/** A token signed with the data directory's generated secret, the way `autocode token create` does it. */
async function startTokenOnly(env: Record<string, string>): Promise<string> {
  const { spawnSync } = await import('node:child_process');
  const result = spawnSync(process.execPath, [join(import.meta.dirname, '..', 'dist', 'cli.js'), 'token', 'create', '--user', 'grace'], {
    env,
    encoding: 'utf8',
  });
  expect(result.status, result.stderr).toBe(0);
  return result.stdout.trim();
}
