import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, it, jest } from '@jest/globals';
import { expect } from './jest/expect.js';
import { ApprovalsService } from '../src/runs/approvals.service.js';
import { RunRelayService } from '../src/dispatch/run-relay.service.js';
import { startAnthropicStub, type AnthropicStub } from './fixtures/anthropic-stub.js';
import { createTestDatabase, disposeTestServer, FIXTURE_AGENTS, freePort, startTestServer, waitFor, waitForStatus, type TestDatabase, type TestServer } from './helpers/test-server.js';

// A decision taken on an API node reaches the worker that runs the gated agent over Redis, at
// once: the worker is told, reads the decision from the shared PostgreSQL database, and the
// agent goes on.

const SECRET = 'approvals-cross-node-secret-'.padEnd(40, 'x');
const AGENTS = {
  ...FIXTURE_AGENTS,
  gated: { executor: 'claude', maxTurns: 5, allowedTools: ['Read', 'Bash'], approvals: { tools: ['Bash'], timeoutSeconds: 60 } },
};

async function startRedis(): Promise<{ url: string; stop(): Promise<void> }> {
  const port = await freePort();
  const child: ChildProcess = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
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
  return {
    url: `redis://127.0.0.1:${port}`,
    stop: async () => {
      if (child.exitCode !== null) return;
      const exited = once(child, 'exit');
      child.kill('SIGKILL');
      await exited;
    },
  };
}

describe('approvals across nodes with Redis', () => {
  let redis: Awaited<ReturnType<typeof startRedis>>;
  let stub: AnthropicStub;
  let database: TestDatabase;
  let api: TestServer;
  let worker: TestServer;
  const names = ['ANTHROPIC_API_KEY', 'ANTHROPIC_BASE_URL', 'CLAUDE_CODE_OAUTH_TOKEN'];
  const saved = Object.fromEntries(names.map((name) => [name, process.env[name]]));

  beforeAll(async () => {
    redis = await startRedis();
    stub = await startAnthropicStub({ 'gate-remote': [{ tool: 'Bash', input: { command: 'echo remote > remote.txt', description: 'write a file' } }, { text: 'Done.' }] });
    Object.assign(process.env, { ANTHROPIC_BASE_URL: stub.url, ANTHROPIC_API_KEY: 'sk-ant-test-not-a-real-key' });
    delete process.env.CLAUDE_CODE_OAUTH_TOKEN;
    database = await createTestDatabase();
    const env = { JWT_SECRET: SECRET, REDIS_URL: redis.url };
    api = await startTestServer({ agents: AGENTS, database, env: { ...env, ROLE: 'api', NODE_NAME: 'api' } });
    worker = await startTestServer({ agents: AGENTS, database, env: { ...env, ROLE: 'worker', NODE_NAME: 'worker' } });
    await waitFor(() => api.app.get(RunRelayService).state.connected && worker.app.get(RunRelayService).state.connected, 15_000, 'both nodes on Redis');
  });

  afterAll(async () => {
    await worker?.close();
    if (api) await disposeTestServer(api);
    if (worker) await disposeTestServer(worker);
    await redis?.stop();
    await stub?.close();
    for (const [name, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  });

  it("lets the worker's agent go on as soon as the API node stores the decision", async () => {
    const token = api.token('alice');
    const submitted = await api.request('POST', '/api/v1/runs', { token, body: { agent: 'gated', prompt: '[script:gate-remote] Write a file' } });
    expect(submitted.status, submitted.text).toBe(202);
    const id = submitted.json.id as string;
    const approval = await waitFor(async () => (await api.request('GET', `/api/v1/runs/${id}`, { token })).json.pendingApproval ?? undefined, 30_000, 'the pending approval');
    expect((await api.request('GET', `/api/v1/runs/${id}`, { token })).json.node).toBe('worker');

    const told = jest.spyOn(worker.app.get(ApprovalsService), 'decidedElsewhere');
    const decided = await api.request('POST', `/api/v1/runs/${id}/approvals/${approval.approvalId}`, { token, body: { decision: 'allow' } });
    expect(decided.status, decided.text).toBe(200);
    await waitFor(() => told.mock.calls.length > 0, 2_000, 'the decision over Redis');
    expect(told).toHaveBeenCalledWith({ runId: id, approvalId: approval.approvalId });

    const run = await waitForStatus(api, token, id, ['succeeded', 'failed', 'timed_out'], 30_000);
    expect(run.status, JSON.stringify(run.error)).toBe('succeeded');
    expect(readFileSync(join(worker.dataDir, 'users', 'alice', 'runs', id, 'remote.txt'), 'utf8')).toBe('remote\n');
    const events: { type: string; data: Record<string, unknown> }[] = (await api.request('GET', `/api/v1/runs/${id}/events`, { token })).json.items;
    expect(events.find((event) => event.type === 'approval_decided')!.data).toEqual({ approvalId: approval.approvalId, decision: 'allow', by: 'alice' });
  });
});
