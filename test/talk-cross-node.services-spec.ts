import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, it, jest } from '@jest/globals';
import { expect } from './jest/expect.js';
import { ApprovalsService } from '../src/runs/approvals.service.js';
import { RunInboxesService } from '../src/dispatch/run-inboxes.service.js';
import { RunRelayService } from '../src/dispatch/run-relay.service.js';
import { startAnthropicStub, useStubForClaude, type AnthropicStub } from './fixtures/anthropic-stub.js';
import { startRedis, type RedisServer } from './helpers/redis-server.js';
import { createTestDatabase, disposeTestServer, FIXTURE_AGENTS, startTestServer, waitFor, waitForStatus, type TestDatabase, type TestServer } from './helpers/test-server.js';

// Talking to an agent that runs on another node: a decision, or a message, taken by the API node
// reaches the worker that runs the agent over Redis, at once: the worker is told, reads it from
// the shared PostgreSQL database, and hands it to the agent.

const SECRET = 'approvals-cross-node-secret-'.padEnd(40, 'x');
const AGENTS = {
  ...FIXTURE_AGENTS,
  gated: { executor: 'claude', maxTurns: 5, allowedTools: ['Read', 'Bash'], approvals: { tools: ['Bash'], timeoutSeconds: 60 } },
  talkative: { executor: 'claude', maxTurns: 5, allowedTools: ['Read', 'Bash'] },
};

describe('talking to an agent on another node, with Redis', () => {
  let redis: RedisServer;
  let stub: AnthropicStub;
  let database: TestDatabase;
  let api: TestServer;
  let worker: TestServer;
  let restoreEnv: () => void = () => {};

  beforeAll(async () => {
    redis = await startRedis();
    stub = await startAnthropicStub({
      'gate-remote': [{ tool: 'Bash', input: { command: 'echo remote > remote.txt', description: 'write a file' } }, { text: 'Done.' }],
      // The agent waits in a tool call until the test lets it go, once the message has reached it.
      'wait-remote': [{ tool: 'Bash', input: { command: 'while [ ! -f go ]; do sleep 0.1; done; echo released', description: 'wait' } }, { text: 'Read your message.' }],
    });
    restoreEnv = useStubForClaude(stub);
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
    restoreEnv();
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

  it('hands a message sent to the API node to the agent on the worker, told over Redis', async () => {
    const token = api.token('alice');
    const submitted = await api.request('POST', '/api/v1/runs', { token, body: { agent: 'talkative', prompt: '[script:wait-remote] Wait for me.' } });
    expect(submitted.status, submitted.text).toBe(202);
    const id = submitted.json.id as string;
    const events = async (): Promise<{ type: string; data: Record<string, unknown> }[]> => (await api.request('GET', `/api/v1/runs/${id}/events?limit=1000`, { token })).json.items;
    await waitFor(async () => (await events()).some((event) => event.type === 'tool_use'), 30_000, 'the agent waiting in its tool call');
    expect((await api.request('GET', `/api/v1/runs/${id}`, { token })).json.node).toBe('worker');

    const told = jest.spyOn(worker.app.get(RunInboxesService), 'receiveRelayed');
    const sent = await api.request('POST', `/api/v1/runs/${id}/messages`, { token, body: { prompt: 'From the API node.' } });
    expect(sent.status, sent.text).toBe(202);
    await waitFor(() => told.mock.calls.length > 0, 2_000, 'the message over Redis');
    await waitFor(async () => (await events()).some((event) => event.type === 'user_message' && event.data.prompt === 'From the API node.'), 5_000, 'the user_message event');
    writeFileSync(join(worker.dataDir, 'users', 'alice', 'runs', id, 'go'), '');
    const run = await waitForStatus(api, token, id, ['succeeded', 'failed', 'timed_out'], 30_000);
    expect(run.status, JSON.stringify(run.error)).toBe('succeeded');
    expect(stub.requests.some((request) => JSON.stringify(request.body?.messages ?? []).includes('From the API node.'))).toBe(true);
  });
});
