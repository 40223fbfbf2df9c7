import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, it } from '@jest/globals';
import { expect } from './jest/expect.js';
import { DatabaseService } from '../src/database/database.service.js';
import { startAnthropicStub, useStubForClaude, type AnthropicStub, type StubRequest, type StubTurn } from './fixtures/anthropic-stub.js';
import { disposeTestServer, FIXTURE_AGENTS, startTestServer, waitFor, waitForStatus, type TestServer } from './helpers/test-server.js';

// Approval gates end to end: the real Claude Agent SDK and Claude Code CLI against the stand-in
// for the Messages API, stopping before gated tool calls until a decision is posted.

const SCRIPTS: Record<string, StubTurn[]> = {
  'gate-allow': [{ text: 'Writing it.', tool: 'Bash', input: { command: 'echo approved > allowed.txt', description: 'write a file' } }, { text: 'Wrote allowed.txt.' }],
  'gate-deny': [{ tool: 'Bash', input: { command: 'echo nope > denied.txt', description: 'write a file' } }, { text: 'Understood, I will not.' }],
  'gate-timeout': [{ tool: 'Bash', input: { command: 'echo late > late.txt', description: 'write a file' } }, { text: 'Nobody answered.' }],
  'gate-write': [{ tool: 'Write', input: { file_path: 'gated.txt', content: 'through the gate\n' } }, { text: 'Written.' }],
  'gate-elsewhere': [{ tool: 'Bash', input: { command: 'echo polled > polled.txt', description: 'write a file' } }, { text: 'Done.' }],
  'gate-read': [{ tool: 'Read', input: { file_path: 'seed.txt' } }, { text: 'Read it.' }],
};

const AGENTS = {
  ...FIXTURE_AGENTS,
  gated: { executor: 'claude', maxTurns: 5, allowedTools: ['Read', 'Write', 'Edit', 'Bash'], approvals: { tools: ['Bash', 'Write'], timeoutSeconds: 60 } },
  // Even bypassPermissions asks for a gated tool.
  'gated-quick': { executor: 'claude', maxTurns: 5, permissionMode: 'bypassPermissions', approvals: { tools: ['Bash'], timeoutSeconds: 2, onTimeout: 'deny' } },
};

interface Event {
  seq: number;
  type: string;
  data: Record<string, unknown>;
}

type Json = Record<string, unknown>;

/** The tool results the CLI sent back in one request to the Messages API. */
function toolResults(request: StubRequest): Json[] {
  const messages = (request.body?.messages ?? []) as Json[];
  return messages.flatMap((message) => (Array.isArray(message.content) ? (message.content as Json[]) : [])).filter((block) => block.type === 'tool_result');
}

function textOf(content: unknown): string {
  if (typeof content === 'string') return content;
  return Array.isArray(content) ? content.map((block: Json) => (typeof block.text === 'string' ? block.text : '')).join('\n') : '';
}

describe('approval gates', () => {
  let stub: AnthropicStub;
  let server: TestServer;
  let alice: string;
  let bob: string;
  let admin: string;
  let restoreEnv: () => void = () => {};

  beforeAll(async () => {
    stub = await startAnthropicStub(SCRIPTS);
    restoreEnv = useStubForClaude(stub);
    server = await startTestServer({ agents: AGENTS, env: { WEBHOOK_ALLOW_PRIVATE_NETWORKS: 'true' } });
    alice = server.token('alice');
    bob = server.token('bob');
    admin = server.token('root', { admin: true });
  });

  afterAll(async () => {
    await disposeTestServer(server);
    await stub.close();
    restoreEnv();
  });

  async function submit(body: Json): Promise<string> {
    const response = await server.request('POST', '/api/v1/runs', { token: alice, body });
    expect(response.status, response.text).toBe(202);
    return response.json.id as string;
  }

  async function events(runId: string): Promise<Event[]> {
    return (await server.request('GET', `/api/v1/runs/${runId}/events?limit=1000`, { token: alice })).json.items;
  }

  /** Waits until the run shows a call waiting for approval, and returns it. */
  async function pending(runId: string): Promise<Json> {
    return waitFor(
      async () => {
        const run = (await server.request('GET', `/api/v1/runs/${runId}`, { token: alice })).json;
        if (run.status !== 'running' && run.status !== 'queued') throw new Error(`run ended ${run.status} without asking: ${JSON.stringify(run.error)}`);
        return run.pendingApproval ?? undefined;
      },
      30_000,
      `a pending approval of run ${runId}`,
    );
  }

  function decide(runId: string, approvalId: string, body: Json, token = alice): ReturnType<TestServer['request']> {
    return server.request('POST', `/api/v1/runs/${runId}/approvals/${approvalId}`, { token, body });
  }

  function workspaceFile(runId: string, name: string): string {
    return join(server.dataDir, 'users', 'alice', 'runs', runId, name);
  }

  it('stops before a gated Bash call until the owner allows it; then the tool runs and the run succeeds', async () => {
    const endpoint = await server.request('POST', '/api/v1/webhooks', { token: alice, body: { url: 'http://127.0.0.1:9/hook', events: ['run.approval_requested'] } });
    expect(endpoint.status, endpoint.text).toBe(201);

    const id = await submit({ agent: 'gated', prompt: '[script:gate-allow] Write a file' });
    const approval = await pending(id);
    expect(approval).toEqual({
      approvalId: expect.stringMatching(/^[0-9a-f-]{36}$/),
      tool: 'Bash',
      input: expect.objectContaining({ command: 'echo approved > allowed.txt' }),
      requestedAt: expect.any(String),
      expiresAt: expect.any(String),
    });
    const waited = Date.parse(approval.expiresAt as string) - Date.parse(approval.requestedAt as string);
    expect(waited).toBe(60_000);
    // Nothing ran yet, and the list shows the same waiting call.
    expect(existsSync(workspaceFile(id, 'allowed.txt'))).toBe(false);
    const listed = (await server.request('GET', '/api/v1/runs?limit=5', { token: alice })).json.items.find((run: Json) => run.id === id);
    expect(listed.pendingApproval).toEqual(approval);
    await waitFor(async () => (await events(id)).some((e) => e.type === 'approval_requested'), 5_000, 'the approval_requested event');
    expect((await events(id)).find((e) => e.type === 'approval_requested')!.data).toEqual({ approvalId: approval.approvalId, tool: 'Bash', input: approval.input });

    // Someone else's run is not there for bob; an unknown approval id is not there for alice.
    const foreign = await decide(id, approval.approvalId as string, { decision: 'allow' }, bob);
    expect(foreign.status).toBe(404);
    expect(foreign.json.code).toBe('run_not_found');
    expect(foreign.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    const unknown = await decide(id, '0190f4a4-0000-7000-8000-000000000000', { decision: 'allow' });
    expect(unknown.status).toBe(404);
    expect(unknown.json.code).toBe('approval_not_found');
    const invalid = await decide(id, approval.approvalId as string, { decision: 'maybe' });
    expect(invalid.status).toBe(400);

    const allowed = await decide(id, approval.approvalId as string, { decision: 'allow' });
    expect(allowed.status, allowed.text).toBe(200);
    expect(allowed.json).toMatchObject({ id, status: 'running', pendingApproval: null });
    const again = await decide(id, approval.approvalId as string, { decision: 'deny' });
    expect(again.status).toBe(409);
    expect(again.json).toMatchObject({ code: 'approval_closed', decision: 'allow', decidedBy: 'alice' });

    const run = await waitForStatus(server, alice, id, ['succeeded', 'failed', 'timed_out'], 30_000);
    expect(run, JSON.stringify(run.error)).toMatchObject({ status: 'succeeded', pendingApproval: null });
    expect(readFileSync(workspaceFile(id, 'allowed.txt'), 'utf8')).toBe('approved\n');
    const list = await events(id);
    const decided = list.find((e) => e.type === 'approval_decided')!;
    expect(decided.data).toEqual({ approvalId: approval.approvalId, decision: 'allow', by: 'alice' });
    const requested = list.find((e) => e.type === 'approval_requested')!;
    const result = list.find((e) => e.type === 'tool_result')!;
    expect(requested.seq).toBeLessThan(decided.seq);
    expect(decided.seq).toBeLessThan(result.seq);
    expect(result.data).toMatchObject({ ok: true });

    const deliveries = await server.request('GET', `/api/v1/webhooks/${endpoint.json.id}/deliveries`, { token: alice });
    expect(deliveries.json.items.map((d: Json) => d.eventType)).toEqual(['run.approval_requested']);
  });

  it("denies with a message: the tool does not run and the model reads the message in the call's tool_result", async () => {
    const id = await submit({ agent: 'gated', prompt: '[script:gate-deny] Write a file' });
    const approval = await pending(id);
    const message = 'Do not write files here; say what you would have written.';
    const denied = await decide(id, approval.approvalId as string, { decision: 'deny', message });
    expect(denied.status, denied.text).toBe(200);

    const run = await waitForStatus(server, alice, id, ['succeeded', 'failed', 'timed_out'], 30_000);
    expect(run.status, JSON.stringify(run.error)).toBe('succeeded');
    expect(existsSync(workspaceFile(id, 'denied.txt'))).toBe(false);
    const next = stub.requests.find((r) => r.script === 'gate-deny' && r.turn === 1 && Array.isArray(r.body?.tools));
    expect(next).toBeDefined();
    const [result] = toolResults(next!);
    expect(result).toMatchObject({ is_error: true });
    expect(textOf(result!.content)).toContain(message);
    expect((await events(id)).find((e) => e.type === 'approval_decided')!.data).toEqual({ approvalId: approval.approvalId, decision: 'deny', by: 'alice', message });
  });

  it("applies onTimeout (deny) when nobody decides in time, recorded by: timeout; a late decision is closed", async () => {
    const id = await submit({ agent: 'gated-quick', prompt: '[script:gate-timeout] Write a file' });
    const approval = await pending(id);
    const run = await waitForStatus(server, alice, id, ['succeeded', 'failed', 'timed_out'], 30_000);
    expect(run.status, JSON.stringify(run.error)).toBe('succeeded');
    expect(existsSync(workspaceFile(id, 'late.txt'))).toBe(false);
    const decided = (await events(id)).find((e) => e.type === 'approval_decided')!;
    expect(decided.data).toEqual({ approvalId: approval.approvalId, decision: 'deny', by: 'timeout' });
    const next = stub.requests.find((r) => r.script === 'gate-timeout' && r.turn === 1 && Array.isArray(r.body?.tools));
    const [result] = toolResults(next!);
    expect(result).toMatchObject({ is_error: true });
    expect(textOf(result!.content)).toContain('nobody approved this Bash call within 2 seconds');
    const late = await decide(id, approval.approvalId as string, { decision: 'allow' });
    expect(late.status).toBe(409);
    expect(late.json.code).toBe('approval_closed');
  });

  it('gates Write under acceptEdits too, and lets an admin decide on a run of another user', async () => {
    const id = await submit({ agent: 'gated', prompt: '[script:gate-write] Write gated.txt' });
    const approval = await pending(id);
    // Claude Code hands the tool its absolute path.
    expect(approval).toMatchObject({ tool: 'Write', input: { file_path: workspaceFile(id, 'gated.txt'), content: 'through the gate\n' } });
    expect(existsSync(workspaceFile(id, 'gated.txt'))).toBe(false);
    const allowed = await decide(id, approval.approvalId as string, { decision: 'allow' }, admin);
    expect(allowed.status, allowed.text).toBe(200);
    const run = await waitForStatus(server, alice, id, ['succeeded', 'failed', 'timed_out'], 30_000);
    expect(run.status, JSON.stringify(run.error)).toBe('succeeded');
    expect(readFileSync(workspaceFile(id, 'gated.txt'), 'utf8')).toBe('through the gate\n');
    expect((await events(id)).find((e) => e.type === 'approval_decided')!.data).toMatchObject({ decision: 'allow', by: 'root' });
  });

  it('lets tools that are not gated run without asking', async () => {
    const id = await submit({ agent: 'gated', prompt: '[script:gate-read] Read seed.txt' });
    const run = await waitForStatus(server, alice, id, ['succeeded', 'failed', 'timed_out'], 30_000);
    expect(run.status, JSON.stringify(run.error)).toBe('succeeded');
    const types = (await events(id)).map((e) => e.type);
    expect(types).toContain('tool_result');
    expect(types).not.toContain('approval_requested');
  });

  it('finds a decision that another node stored, by reading the database while the call waits', async () => {
    const id = await submit({ agent: 'gated', prompt: '[script:gate-elsewhere] Write a file' });
    const approval = await pending(id);
    // As an API node without Redis would: the decision is only in the database.
    const database = server.app.get(DatabaseService);
    await database.query(database.dataSource.manager, "UPDATE run_approvals SET decision = 'allow', decided_by = 'carol', decided_at = ? WHERE id = ?", [
      new Date().toISOString(),
      approval.approvalId,
    ]);
    const run = await waitForStatus(server, alice, id, ['succeeded', 'failed', 'timed_out'], 30_000);
    expect(run.status, JSON.stringify(run.error)).toBe('succeeded');
    expect(readFileSync(workspaceFile(id, 'polled.txt'), 'utf8')).toBe('polled\n');
    expect((await events(id)).find((e) => e.type === 'approval_decided')!.data).toEqual({ approvalId: approval.approvalId, decision: 'allow', by: 'carol' });
  });

  it('keeps counting the run timeout while a call waits: the run ends timed_out and the call is closed', async () => {
    const id = await submit({ agent: 'gated', prompt: '[script:gate-allow] Write a file', timeoutSeconds: 4 });
    const approval = await pending(id);
    const run = await waitForStatus(server, alice, id, ['timed_out', 'succeeded', 'failed', 'cancelled'], 30_000);
    expect(run).toMatchObject({ status: 'timed_out', pendingApproval: null });
    expect(run.durationMs).toBeLessThan(10_000);
    const late = await decide(id, approval.approvalId as string, { decision: 'allow' });
    expect(late.status).toBe(409);
    expect(late.json.code).toBe('approval_closed');
    expect(existsSync(workspaceFile(id, 'allowed.txt'))).toBe(false);
  });
});
