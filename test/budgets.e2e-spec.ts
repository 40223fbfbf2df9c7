import { afterAll, beforeAll, describe, it } from '@jest/globals';
import { expect } from './jest/expect.js';
import { disposeTestServer, FIXTURE_AGENTS, startTestServer, waitForStatus, type TestResponse, type TestServer } from './helpers/test-server.js';

// Daily dollar budgets end to end: what runs cost (as their agents report it) counted against the
// user's budget, admission refusing once it is spent, a queued run waiting for budget, the run's own
// maxBudgetUsd at submit, and the admin override — real HTTP, real agents, SQLite.
// The claude executor's stop at its budget is in claude-executor.e2e-spec.ts.

type Json = TestResponse['json'];

/** A command agent that reports what it cost in the run-event vocabulary, after `seconds`. */
function spender(costUsd: number, seconds = 0): Record<string, unknown> {
  const line = JSON.stringify({ type: 'result', summary: 'spent', costUsd });
  return { executor: 'command', command: ['/bin/sh', '-c', `sleep ${seconds}; echo '${line}'`], output: 'jsonl' };
}

const AGENTS = { ...FIXTURE_AGENTS, spend: spender(0.4), 'slow-spend': spender(0.4, 1) };

const FINAL = ['succeeded', 'failed', 'cancelled', 'timed_out', 'interrupted'];

function expectProblem(response: TestResponse, status: number, code: string): void {
  expect(response.status, response.text).toBe(status);
  expect(response.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  expect(response.json).toMatchObject({ status, code });
}

function nextUtcMidnight(at: number): number {
  const day = new Date(at);
  return Date.UTC(day.getUTCFullYear(), day.getUTCMonth(), day.getUTCDate() + 1);
}

describe('daily budgets', () => {
  let server: TestServer;
  const admin = (): string => server.token('root', { admin: true });

  beforeAll(async () => {
    server = await startTestServer({ agents: AGENTS, env: { MAX_CONCURRENT_AGENTS: '4' } });
  });
  afterAll(async () => disposeTestServer(server));

  function submit(token: string, body: Record<string, unknown>): Promise<TestResponse> {
    return server.request('POST', '/api/v1/runs', { token, body: { prompt: 'budget test', ...body } });
  }

  async function run(token: string, agent: string): Promise<Json> {
    const response = await submit(token, { agent });
    expect(response.status, response.text).toBe(202);
    return waitForStatus(server, token, response.json.id, FINAL);
  }

  async function budgetOf(token: string): Promise<Json> {
    const response = await server.request('GET', '/api/v1/quota', { token });
    expect(response.status, response.text).toBe(200);
    return response.json.budget;
  }

  function setQuota(userId: string, body: Record<string, unknown>): Promise<TestResponse> {
    return server.request('PUT', `/api/v1/admin/users/${userId}/quota`, { token: admin(), body });
  }

  it("shows the tier's daily budget and what the runs that finished today cost", async () => {
    const token = server.token('b-view');
    expect(await budgetOf(token)).toEqual({ usedUsd: 0, limitUsd: 20 });
    expect((await setQuota('b-view', { tier: 'free' })).status).toBe(200);
    expect(await budgetOf(token)).toEqual({ usedUsd: 0, limitUsd: 1 });
    expect((await setQuota('b-view', { tier: 'premium' })).status).toBe(200);
    expect(await budgetOf(token)).toEqual({ usedUsd: 0, limitUsd: 100 });

    expect((await run(token, 'spend')).result).toMatchObject({ costUsd: 0.4 });
    expect((await run(token, 'jsonl')).result).toMatchObject({ costUsd: 0.0123 });
    // A run that reports no cost counts nothing.
    expect((await run(token, 'fast')).result).toBeNull();
    expect(await budgetOf(token)).toEqual({ usedUsd: 0.4123, limitUsd: 100 });

    const users = await server.request('GET', '/api/v1/admin/users', { token: admin() });
    expect(users.json.items.find((user: Json) => user.userId === 'b-view')).toMatchObject({
      budget: { usedUsd: 0.4123, limitUsd: 100 },
      overrides: { tier: 'premium', dailyBudgetUsd: null },
    });
  });

  it("refuses 429 budget_exhausted with a Retry-After to the reset once today's spend reaches the budget", async () => {
    const token = server.token('b-spent');
    expect((await setQuota('b-spent', { dailyBudgetUsd: 0.5 })).status).toBe(200);
    await run(token, 'spend');
    // $0.40 of $0.50: one more run is admitted, and it spends past the budget.
    await run(token, 'spend');
    const before = Date.now();
    const refused = await submit(token, { agent: 'fast' });
    const after = Date.now();
    expectProblem(refused, 429, 'budget_exhausted');
    expect(refused.json).toMatchObject({ limitUsd: 0.5, usedUsd: 0.8 });
    const resetsAt = Date.parse(refused.json.resetsAt);
    expect([nextUtcMidnight(before), nextUtcMidnight(after)]).toContain(resetsAt);
    const retryAfter = Number(refused.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThanOrEqual((resetsAt - after) / 1000 - 2);
    expect(retryAfter).toBeLessThanOrEqual((resetsAt - before) / 1000 + 2);
    expect(await budgetOf(token)).toEqual({ usedUsd: 0.8, limitUsd: 0.5 });
    const metrics = await server.request('GET', '/metrics');
    expect(metrics.text).toMatch(/autocode_quota_rejections_total\{reason="budget_exhausted"\} [1-9]/);

    // A larger budget admits again, at once.
    expect((await setQuota('b-spent', { dailyBudgetUsd: 1 })).status).toBe(200);
    expect((await submit(token, { agent: 'fast' })).status).toBe(202);
  });

  it('keeps a queued run waiting while the day\'s budget is spent, and starts it once there is budget again', async () => {
    const token = server.token('b-wait');
    expect((await setQuota('b-wait', { concurrent: 1, dailyBudgetUsd: 0.3 })).status).toBe(200);
    const first = await submit(token, { agent: 'slow-spend' });
    const second = await submit(token, { agent: 'fast' });
    expect([first.status, second.status]).toEqual([202, 202]);
    expect((await waitForStatus(server, token, first.json.id, FINAL)).status).toBe('succeeded');
    // The first run spent $0.40 of $0.30: the second, admitted before, may not start today.
    await new Promise((resolve) => setTimeout(resolve, 2_500));
    expect((await server.request('GET', `/api/v1/runs/${second.json.id}`, { token })).json.status).toBe('queued');
    expectProblem(await submit(token, { agent: 'fast' }), 429, 'budget_exhausted');

    expect((await setQuota('b-wait', { dailyBudgetUsd: 1 })).status).toBe(200);
    expect((await waitForStatus(server, token, second.json.id, FINAL)).status).toBe('succeeded');
  });

  it('stores and shows the maxBudgetUsd a run asks for, and refuses one above the daily budget with budget_exceeds_quota', async () => {
    const token = server.token('b-ask');
    const accepted = await submit(token, { agent: 'fast', maxBudgetUsd: 2.5 });
    expect(accepted.status, accepted.text).toBe(202);
    expect(accepted.json.maxBudgetUsd).toBe(2.5);
    const shown = await waitForStatus(server, token, accepted.json.id, FINAL);
    expect(shown).toMatchObject({ status: 'succeeded', maxBudgetUsd: 2.5 });
    // The whole day's budget may go to one run.
    expect((await submit(token, { agent: 'fast', maxBudgetUsd: 20 })).json.maxBudgetUsd).toBe(20);
    expect((await submit(token, { agent: 'fast' })).json.maxBudgetUsd).toBeNull();

    const tooMuch = await submit(token, { agent: 'fast', maxBudgetUsd: 20.01 });
    expectProblem(tooMuch, 400, 'budget_exceeds_quota');
    expect(tooMuch.json).toMatchObject({ limitUsd: 20 });
    expect((await setQuota('b-ask', { dailyBudgetUsd: 30 })).status).toBe(200);
    expect((await submit(token, { agent: 'fast', maxBudgetUsd: 20.01 })).status).toBe(202);
  });

  it.each([[0], [-1], [0.001], ['1'], [true], [2_000_000], [{}]])('refuses maxBudgetUsd %p with 400 validation_failed', async (maxBudgetUsd) => {
    const response = await submit(server.token('b-bad'), { agent: 'fast', maxBudgetUsd });
    expectProblem(response, 400, 'validation_failed');
    expect(response.json.errors.join('\n')).toContain('maxBudgetUsd');
  });

  it("sets, shows and clears a user's budget override through the admin route, and refuses bad ones", async () => {
    const token = server.token('b-admin');
    const set = await setQuota('b-admin', { dailyBudgetUsd: 2.5 });
    expect(set.status, set.text).toBe(200);
    expect(set.json).toMatchObject({ budget: { usedUsd: 0, limitUsd: 2.5 }, overrides: { dailyBudgetUsd: 2.5 } });
    expect(await budgetOf(token)).toEqual({ usedUsd: 0, limitUsd: 2.5 });
    for (const dailyBudgetUsd of [-1, 'x', 2_000_000, true]) {
      expectProblem(await setQuota('b-admin', { dailyBudgetUsd }), 400, 'validation_failed');
    }
    expect(await budgetOf(token)).toEqual({ usedUsd: 0, limitUsd: 2.5 });
    // Zero is a budget too: nothing may be spent.
    expect((await setQuota('b-admin', { dailyBudgetUsd: 0 })).status).toBe(200);
    expectProblem(await submit(token, { agent: 'fast' }), 429, 'budget_exhausted');
    const cleared = await setQuota('b-admin', { dailyBudgetUsd: null });
    expect(cleared.json).toMatchObject({ budget: { limitUsd: 20 }, overrides: { dailyBudgetUsd: null } });
  });
});
