import { afterAll, beforeAll, describe, it } from '@jest/globals';
import { expect } from './jest/expect.js';
import { disposeTestServer, FIXTURE_AGENTS, fixtureProfile, startTestServer, waitFor, type TestServer } from './helpers/test-server.js';

// The seed's /api/agents routes, mapped onto runs, with owner scoping the seed lacked. The role
// profiles are replaced by fixture agents here (a profiles file may replace a built-in by name).

describe('seed-compatible agent routes', () => {
  let server: TestServer;
  let alice: string;
  let bob: string;
  let specId: string;

  beforeAll(async () => {
    server = await startTestServer({
      agents: { ...FIXTURE_AGENTS, planner: fixtureProfile('echo-input.mjs'), coder: fixtureProfile('sleeper.mjs', ['60']) },
    });
    alice = server.token('alice');
    bob = server.token('bob');
    const workspace = await server.request('POST', '/api/v1/workspaces', { token: alice, body: { name: 'default' } });
    expect(workspace.status, workspace.text).toBe(201);
    const spec = await server.request('POST', '/api/v1/workspaces/default/specs', { token: alice, body: { title: 'Add login', body: 'Users log in with a password.' } });
    expect(spec.status, spec.text).toBe(201);
    specId = spec.json.id;
  });
  afterAll(async () => disposeTestServer(server));

  async function statusOf(token: string, taskId: string): Promise<{ status: number; json: Record<string, unknown> }> {
    const response = await server.request('GET', `/api/agents/status/${taskId}`, { token });
    return { status: response.status, json: response.json };
  }

  it('answers the health route without a token', async () => {
    const health = await server.request('GET', '/api/agents/health');
    expect(health.status).toBe(200);
    expect(health.json).toEqual({ status: 'ok', endpoint: 'agents' });
  });

  it('starts a task on a spec and reports it in the seed shape until it completes', async () => {
    const started = await server.request('POST', '/api/agents/run', { token: alice, body: { spec_id: specId, agent_type: 'planner', verbose: true } });
    expect(started.status, started.text).toBe(202);
    expect(started.json).toEqual({ task_id: expect.any(String), spec_id: specId, agent_type: 'planner', status: 'started', message: expect.any(String) });
    const done = await waitFor(async () => {
      const report = await statusOf(alice, started.json.task_id);
      return report.json.status === 'completed' ? report : undefined;
    });
    expect(done.status).toBe(200);
    expect(Object.keys(done.json).sort()).toEqual(['error', 'result', 'status', 'task_id']);
    expect(done.json).toMatchObject({ task_id: started.json.task_id, error: null });
    // The spec is the planner's prompt.
    const run = await server.request('GET', `/api/v1/runs/${started.json.task_id}/events`, { token: alice });
    const seen = JSON.parse(run.json.items.find((e: { type: string }) => e.type === 'stdout').data.line);
    expect(seen.stdin).toContain('Users log in with a password.');
    const again = await server.request('POST', `/api/agents/cancel/${started.json.task_id}`, { token: alice });
    expect(again.status).toBe(409);
  });

  it('refuses a second task of the same type on the same spec while one runs, and cancels it', async () => {
    const first = await server.request('POST', '/api/agents/run', { token: alice, body: { spec_id: specId, agent_type: 'coder' } });
    expect(first.status).toBe(202);
    const second = await server.request('POST', '/api/agents/run', { token: alice, body: { spec_id: specId, agent_type: 'coder' } });
    expect(second.status).toBe(409);
    expect((await statusOf(alice, first.json.task_id)).json.status).toBe('running');
    // Another user can neither see nor cancel it.
    expect(await statusOf(bob, first.json.task_id)).toEqual({ status: 404, json: { task_id: first.json.task_id, status: 'not_found', result: null, error: 'task not found' } });
    expect((await server.request('POST', `/api/agents/cancel/${first.json.task_id}`, { token: bob })).status).toBe(404);
    const cancel = await server.request('POST', `/api/agents/cancel/${first.json.task_id}`, { token: alice });
    expect(cancel.status).toBe(200);
    expect(cancel.json.task_id).toBe(first.json.task_id);
    await waitFor(async () => (await statusOf(alice, first.json.task_id)).json.status === 'cancelled');
  });

  it('answers bad requests with the seed status codes', async () => {
    expect((await server.request('POST', '/api/agents/run', { token: alice, body: { spec_id: specId, agent_type: 'poet' } })).status).toBe(400);
    expect((await server.request('POST', '/api/agents/run', { token: alice, body: { agent_type: 'planner' } })).status).toBe(400);
    expect((await server.request('POST', '/api/agents/run', { token: alice, body: { spec_id: '999-missing', agent_type: 'planner' } })).status).toBe(404);
    expect((await server.request('POST', '/api/agents/run', { token: bob, body: { spec_id: specId, agent_type: 'planner' } })).status).toBe(404);
    expect((await statusOf(alice, 'not-a-task')).status).toBe(404);
    expect((await server.request('POST', '/api/agents/run', { body: { spec_id: specId, agent_type: 'planner' } })).status).toBe(401);
  });
});
