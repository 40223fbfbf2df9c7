import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, it } from '@jest/globals';
import { expect } from './jest/expect.js';
import {
  disposeTestServer,
  environment,
  FIXTURE_AGENTS,
  ManualClock,
  peakOverlap,
  startTestServer,
  waitFor,
  waitForStatus,
  type TestResponse,
  type TestServer,
} from './helpers/test-server.js';

// Quotas end to end: per-user limits at submit time and at start time, the admin routes that
// change them, the request-rate limit and the CLI — real HTTP, real agents, SQLite.

type Json = TestResponse['json'];

const ACTIVE = ['queued', 'running'];
const FINAL = ['succeeded', 'failed', 'cancelled', 'timed_out', 'interrupted'];

function submit(server: TestServer, token: string, body: Record<string, unknown>): Promise<TestResponse> {
  return server.request('POST', '/api/v1/runs', { token, body: { prompt: 'quota test', ...body } });
}

async function accepted(server: TestServer, token: string, body: Record<string, unknown>): Promise<Json> {
  const response = await submit(server, token, body);
  expect(response.status, response.text).toBe(202);
  return response.json;
}

async function quotaOf(server: TestServer, token: string): Promise<Json> {
  const response = await server.request('GET', '/api/v1/quota', { token });
  expect(response.status, response.text).toBe(200);
  return response.json;
}

async function setQuota(server: TestServer, userId: string, body: Record<string, unknown>): Promise<Json> {
  const response = await server.request('PUT', `/api/v1/admin/users/${encodeURIComponent(userId)}/quota`, {
    token: server.token('root', { admin: true }),
    body,
  });
  expect(response.status, response.text).toBe(200);
  return response.json;
}

async function ownRuns(server: TestServer, token: string, query = ''): Promise<Json[]> {
  const response = await server.request('GET', `/api/v1/runs?limit=100${query}`, { token });
  expect(response.status, response.text).toBe(200);
  return response.json.items;
}

/** Cancels every queued or running run of the token's user (queued first) and waits until none is left. */
async function cancelAll(server: TestServer, token: string): Promise<void> {
  await waitFor(
    async () => {
      const active = (await ownRuns(server, token)).filter((run) => ACTIVE.includes(run.status));
      if (active.length === 0) return true;
      active.sort((a, b) => (a.status === b.status ? 0 : a.status === 'queued' ? -1 : 1));
      for (const run of active) {
        if (!run.cancelRequested || run.status === 'queued') await server.request('POST', `/api/v1/runs/${run.id}/cancel`, { token });
      }
      return false;
    },
    20_000,
    'every run to end',
  );
}

/** Waits until every run of the token's user has finished. */
async function drain(server: TestServer, token: string, timeoutMs = 30_000): Promise<Json[]> {
  return waitFor(
    async () => {
      const runs = await ownRuns(server, token);
      return runs.every((run) => FINAL.includes(run.status)) ? runs : undefined;
    },
    timeoutMs,
    'every run to finish',
  );
}


/**
 * Opens the client's connections and warms the server's code paths with harmless requests, so that
 * the racing submits that follow reach the server together rather than one connection setup apart.
 */
async function warmUp(server: TestServer, token: string): Promise<void> {
  const responses = await Promise.all(Array.from({ length: 100 }, () => server.request('GET', '/api/v1/quota', { token })));
  expect(responses.every((response) => response.status === 200)).toBe(true);
}

function nextUtcMidnight(at: number): number {
  const day = new Date(at);
  return Date.UTC(day.getUTCFullYear(), day.getUTCMonth(), day.getUTCDate() + 1);
}

function expectProblem(response: TestResponse, status: number, code: string): void {
  expect(response.status, response.text).toBe(status);
  expect(response.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  expect(response.json).toMatchObject({ status, code });
}

function retryAfter(response: TestResponse): number {
  const header = response.headers.get('retry-after');
  expect(header, 'Retry-After header').toMatch(/^[1-9]\d*$/);
  return Number(header);
}

describe('quota race, QUOTA_OVERFLOW=reject', () => {
  let server: TestServer;

  beforeAll(async () => {
    server = await startTestServer({ env: { QUOTA_OVERFLOW: 'reject' } });
  });
  afterAll(async () => disposeTestServer(server));

  it('admits exactly the concurrent limit out of 100 simultaneous submits', async () => {
    await setQuota(server, 'u1', { concurrent: 2 });
    const token = server.token('u1');
    await warmUp(server, token);
    const responses = await Promise.all(Array.from({ length: 100 }, (_, i) => submit(server, token, { agent: 'sleeper', prompt: `race ${i}` })));
    try {
      const ok = responses.filter((r) => r.status === 202);
      const refused = responses.filter((r) => r.status === 429);
      expect(ok).toHaveLength(2);
      expect(refused).toHaveLength(98);
      for (const response of refused) {
        expectProblem(response, 429, 'concurrency_limit');
        expect(response.json).toMatchObject({ limit: 2, used: 2 });
        expect(retryAfter(response)).toBeGreaterThan(0);
      }
      const runs = await ownRuns(server, token);
      expect(runs).toHaveLength(2);
      expect(runs.map((run) => run.id).sort()).toEqual(ok.map((r) => r.json.id).sort());
    } finally {
      await cancelAll(server, token);
    }
  });
});

describe('quotas in queue mode', () => {
  let server: TestServer;

  beforeAll(async () => {
    server = await startTestServer({ env: { MAX_CONCURRENT_AGENTS: '4' } });
  });
  afterAll(async () => disposeTestServer(server));

  it('admits exactly one of 50 simultaneous submits when one run is left of the daily limit', async () => {
    await setQuota(server, 'u2', { daily: 10 });
    const token = server.token('u2');
    for (let i = 0; i < 9; i++) {
      const run = await accepted(server, token, { agent: 'fast', prompt: `day ${i}` });
      await waitForStatus(server, token, run.id, ['succeeded']);
    }
    await warmUp(server, token);
    const before = Date.now();
    const responses = await Promise.all(Array.from({ length: 50 }, (_, i) => submit(server, token, { agent: 'fast', prompt: `burst ${i}` })));
    const after = Date.now();
    const ok = responses.filter((r) => r.status === 202);
    const refused = responses.filter((r) => r.status === 429);
    expect(ok).toHaveLength(1);
    expect(refused).toHaveLength(49);
    const midnights = [nextUtcMidnight(before), nextUtcMidnight(after)];
    for (const response of refused) {
      expectProblem(response, 429, 'daily_limit');
      expect(response.json).toMatchObject({ limit: 10, used: 10 });
      const resetsAt = Date.parse(response.json.resetsAt);
      expect(midnights).toContain(resetsAt);
      const seconds = retryAfter(response);
      expect(seconds).toBeGreaterThanOrEqual((resetsAt - after) / 1000 - 2);
      expect(seconds).toBeLessThanOrEqual((resetsAt - before) / 1000 + 2);
    }
    await waitForStatus(server, token, ok[0]!.json.id, ['succeeded']);
    expect((await ownRuns(server, token))).toHaveLength(10);
    const quota = await quotaOf(server, token);
    expect(quota.daily).toMatchObject({ used: 10, limit: 10 });
  });

  it('queues past the concurrent limit up to the queued limit, then refuses queue_full', async () => {
    await setQuota(server, 'u3', { queued: 3, concurrent: 1 });
    const token = server.token('u3');
    try {
      const first = await accepted(server, token, { agent: 'sleeper' });
      await waitForStatus(server, token, first.id, ['running']);
      for (let i = 0; i < 3; i++) {
        const queued = await accepted(server, token, { agent: 'sleeper', prompt: `wait ${i}` });
        expect(queued.status).toBe('queued');
      }
      const fifth = await submit(server, token, { agent: 'sleeper' });
      expectProblem(fifth, 429, 'queue_full');
      expect(fifth.json).toMatchObject({ limit: 3, used: 3 });
      expect(retryAfter(fifth)).toBeGreaterThan(0);
      // The queued runs stay queued: the user's concurrency, not the node's capacity, holds them.
      await new Promise((resolve) => setTimeout(resolve, 1_200));
      const statuses = (await ownRuns(server, token)).map((run) => run.status).sort();
      expect(statuses).toEqual(['queued', 'queued', 'queued', 'running']);
      const quota = await quotaOf(server, token);
      expect(quota.concurrent).toEqual({ used: 1, limit: 1 });
      expect(quota.queued).toEqual({ used: 3, limit: 3 });
    } finally {
      await cancelAll(server, token);
    }
  });

  it("holds a user's running runs at the concurrent limit when they start", async () => {
    await setQuota(server, 'u4', { concurrent: 2 });
    const token = server.token('u4');
    const ids: string[] = [];
    for (let i = 0; i < 6; i++) ids.push((await accepted(server, token, { agent: 'short', prompt: `run ${i}` })).id);
    let maxRunning = 0;
    let samples = 0;
    await waitFor(
      async () => {
        const runs = await ownRuns(server, token);
        samples++;
        maxRunning = Math.max(maxRunning, runs.filter((run) => run.status === 'running').length);
        return runs.every((run) => FINAL.includes(run.status));
      },
      30_000,
      'the six runs to finish',
    );
    expect(samples).toBeGreaterThan(3);
    expect(maxRunning).toBeLessThanOrEqual(2);
    const runs = await Promise.all(ids.map(async (id) => (await server.request('GET', `/api/v1/runs/${id}`, { token })).json));
    expect(runs.map((run) => run.status)).toEqual(Array(6).fill('succeeded'));
    const peak = peakOverlap(runs);
    expect(peak).toBeLessThanOrEqual(2);
    expect(peak).toBe(2); // the limit is used, not just respected
  });

  it("starts another user's run while a user's queue drains", async () => {
    await setQuota(server, 'fair-a', { concurrent: 1 });
    const a = server.token('fair-a');
    const b = server.token('fair-b');
    const aIds: string[] = [];
    for (let i = 0; i < 10; i++) aIds.push((await accepted(server, a, { agent: 'short', prompt: `a ${i}` })).id);
    const bRun = await accepted(server, b, { agent: 'short', prompt: 'b' });
    const bDone = await waitForStatus(server, b, bRun.id, ['succeeded'], 30_000);
    const aRuns = await drain(server, a, 40_000);
    expect(aRuns).toHaveLength(10);
    expect(aRuns.every((run) => run.status === 'succeeded')).toBe(true);
    expect(peakOverlap(aRuns)).toBe(1);
    const bStart = Date.parse(bDone.startedAt);
    const lastAStart = Math.max(...aRuns.map((run) => Date.parse(run.startedAt)));
    expect(bStart).toBeLessThan(lastAStart);
    // Not just before the last one: B did not wait behind A's queue at all.
    expect(aRuns.filter((run) => Date.parse(run.startedAt) > bStart).length).toBeGreaterThanOrEqual(5);
  });

  it('frees the slot on every way a run ends', async () => {
    await setQuota(server, 'u6', { concurrent: 1 });
    const token = server.token('u6');
    try {
      const succeeded = await accepted(server, token, { agent: 'lines' });
      expect((await waitForStatus(server, token, succeeded.id, FINAL)).status).toBe('succeeded');
      const failed = await accepted(server, token, { agent: 'fail' });
      expect((await waitForStatus(server, token, failed.id, FINAL)).status).toBe('failed');

      const running = await accepted(server, token, { agent: 'sleeper' });
      await waitForStatus(server, token, running.id, ['running']);
      let quota = await quotaOf(server, token);
      expect(quota.concurrent).toEqual({ used: 1, limit: 1 });
      expect(quota.queued.used).toBe(0);

      const waiting = await accepted(server, token, { agent: 'sleeper' });
      expect(waiting.status).toBe('queued');
      expect((await quotaOf(server, token)).queued.used).toBe(1);
      const cancelQueued = await server.request('POST', `/api/v1/runs/${waiting.id}/cancel`, { token });
      expect(cancelQueued.status).toBe(202);
      expect(cancelQueued.json).toMatchObject({ status: 'cancelled', startedAt: null });
      quota = await quotaOf(server, token);
      expect(quota.queued.used).toBe(0);
      expect(quota.concurrent.used).toBe(1);

      expect((await server.request('POST', `/api/v1/runs/${running.id}/cancel`, { token })).status).toBe(202);
      expect((await waitForStatus(server, token, running.id, FINAL)).status).toBe('cancelled');

      const timedOut = await accepted(server, token, { agent: 'trap', timeoutSeconds: 1 });
      expect((await waitForStatus(server, token, timedOut.id, FINAL)).status).toBe('timed_out');

      quota = await quotaOf(server, token);
      expect(quota.concurrent).toEqual({ used: 0, limit: 1 });
      expect(quota.queued.used).toBe(0);
      expect(quota.daily.used).toBe(5);

      // The freed slot is really free: a new run starts and finishes.
      const again = await accepted(server, token, { agent: 'lines' });
      expect((await waitForStatus(server, token, again.id, FINAL)).status).toBe('succeeded');
      quota = await quotaOf(server, token);
      expect(quota.concurrent.used).toBe(0);
      expect(quota.queued.used).toBe(0);
    } finally {
      await cancelAll(server, token);
    }
  });

  it('shows a new user the default tier with the documented fields and figures', async () => {
    const before = Date.now();
    const quota = await quotaOf(server, server.token('newcomer'));
    const after = Date.now();
    const resetsAt = quota.daily?.resetsAt;
    expect([new Date(nextUtcMidnight(before)).toISOString(), new Date(nextUtcMidnight(after)).toISOString()]).toContain(resetsAt);
    const { tier, concurrent, queued, daily, maxRunSeconds, budget } = quota;
    expect({ tier, concurrent, queued, daily, maxRunSeconds, budget }).toEqual({
      tier: 'standard',
      concurrent: { used: 0, limit: 3 },
      queued: { used: 0, limit: 20 },
      daily: { used: 0, limit: 50, resetsAt },
      maxRunSeconds: 3600,
      budget: { usedUsd: 0, limitUsd: 20 },
    });
  });

  // The user's own view is the quota object, not the admin view of the user.
  it('answers GET /api/v1/quota with exactly the keys of the quota object', async () => {
    const quota = await quotaOf(server, server.token('newcomer-keys'));
    expect(Object.keys(quota).sort()).toEqual(['budget', 'concurrent', 'daily', 'maxRunSeconds', 'queued', 'tier']);
    expect(Object.keys(quota.budget).sort()).toEqual(['limitUsd', 'usedUsd']);
    expect(Object.keys(quota.concurrent).sort()).toEqual(['limit', 'used']);
    expect(Object.keys(quota.queued).sort()).toEqual(['limit', 'used']);
    expect(Object.keys(quota.daily).sort()).toEqual(['limit', 'resetsAt', 'used']);
  });

  describe('admin routes', () => {
    const admin = (): string => server.token('root', { admin: true });

    it('refuses users with 403 and anonymous clients with 401', async () => {
      const user = server.token('plain-user');
      const routes: [string, string, unknown?][] = [
        ['GET', '/api/v1/admin/users'],
        ['PUT', '/api/v1/admin/users/x/quota', { daily: 1 }],
        ['GET', '/api/v1/admin/runs'],
      ];
      for (const [method, path, body] of routes) {
        expectProblem(await server.request(method, path, { token: user, body }), 403, 'forbidden');
        expectProblem(await server.request(method, path, { body }), 401, 'unauthorized');
      }
      // The refused PUT changed nothing.
      const users = (await server.request('GET', '/api/v1/admin/users', { token: admin() })).json.items;
      expect(users.find((u: Json) => u.userId === 'x')).toBeUndefined();
    });

    it("caps a run's timeout by the tier and by a maxRunSeconds override, and clears overrides with null", async () => {
      const token = server.token('tiered');
      const free = await setQuota(server, 'tiered', { tier: 'free' });
      expect(free).toMatchObject({ userId: 'tiered', tier: 'free', maxRunSeconds: 1800, overrides: { tier: 'free' } });

      const tooLong = await submit(server, token, { agent: 'fast', timeoutSeconds: 3600 });
      expectProblem(tooLong, 400, 'timeout_exceeds_quota');
      const fits = await accepted(server, token, { agent: 'fast', timeoutSeconds: 1800 });
      expect(fits.timeoutSeconds).toBe(1800);
      await waitForStatus(server, token, fits.id, FINAL);

      const longer = await setQuota(server, 'tiered', { maxRunSeconds: 4000 });
      expect(longer).toMatchObject({ tier: 'free', maxRunSeconds: 4000, overrides: { tier: 'free', maxRunSeconds: 4000 } });
      const now = await accepted(server, token, { agent: 'fast', timeoutSeconds: 3600 });
      expect(now.timeoutSeconds).toBe(3600);
      await waitForStatus(server, token, now.id, FINAL);
      expectProblem(await submit(server, token, { agent: 'fast', timeoutSeconds: 4001 }), 400, 'timeout_exceeds_quota');

      const cleared = await setQuota(server, 'tiered', { maxRunSeconds: null, tier: null });
      expect(cleared.overrides).toEqual({ tier: null, concurrent: null, daily: null, queued: null, maxRunSeconds: null, dailyBudgetUsd: null });
      expect(cleared).toMatchObject({ tier: 'standard', maxRunSeconds: 3600 });
      const listed = (await server.request('GET', '/api/v1/admin/users', { token: admin() })).json.items.find((u: Json) => u.userId === 'tiered');
      expect(listed.overrides).toEqual({ tier: null, concurrent: null, daily: null, queued: null, maxRunSeconds: null, dailyBudgetUsd: null });
      expect(listed.tier).toBe('standard');
      expect((await quotaOf(server, token))).toMatchObject({ tier: 'standard', maxRunSeconds: 3600 });
      expectProblem(await submit(server, token, { agent: 'fast', timeoutSeconds: 3601 }), 400, 'timeout_exceeds_quota');
    });

    it('refuses invalid quota changes with validation_failed and keeps the old values', async () => {
      await setQuota(server, 'strict', { concurrent: 2 });
      const bodies: unknown[] = [
        { concurrent: -1 },
        { concurrent: 1.5 },
        { concurrent: '2' },
        { tier: 'gold' },
        { maxRunSeconds: 0 },
        { daily: 5, colour: 'blue' },
      ];
      for (const body of bodies) {
        const response = await server.request('PUT', '/api/v1/admin/users/strict/quota', { token: admin(), body });
        expectProblem(response, 400, 'validation_failed');
      }
      const listed = (await server.request('GET', '/api/v1/admin/users', { token: admin() })).json.items.find((u: Json) => u.userId === 'strict');
      expect(listed.overrides).toEqual({ tier: null, concurrent: 2, daily: null, queued: null, maxRunSeconds: null, dailyBudgetUsd: null });
    });

    // A too-long id reaches the pipe (not the router's default 100-character parameter limit).
    it('refuses a user id of 129 characters with 400', async () => {
      const response = await server.request('PUT', `/api/v1/admin/users/${'a'.repeat(129)}/quota`, { token: admin(), body: { daily: 1 } });
      expectProblem(response, 400, 'validation_failed');
    });

    // Ids of 101 to 128 characters are valid token subjects and must be addressable.
    it('accepts a user id of 128 characters, the longest a token may carry', async () => {
      const id = 'b'.repeat(128);
      const response = await server.request('PUT', `/api/v1/admin/users/${id}/quota`, { token: admin(), body: { daily: 1 } });
      expect(response.status, response.text).toBe(200);
      expect(response.json).toMatchObject({ userId: id, overrides: { daily: 1 } });
    });

    it('lists users with role, tier, usage and overrides', async () => {
      await setQuota(server, 'listed', { daily: 9, queued: 4 });
      const token = server.token('listed');
      const run = await accepted(server, token, { agent: 'sleeper' });
      try {
        await waitForStatus(server, token, run.id, ['running']);
        const response = await server.request('GET', '/api/v1/admin/users', { token: admin() });
        expect(response.status).toBe(200);
        const items: Json[] = response.json.items;
        const listed = items.find((u) => u.userId === 'listed');
        expect(listed).toMatchObject({
          userId: 'listed',
          role: 'user',
          tier: 'standard',
          concurrent: { used: 1, limit: 3 },
          queued: { used: 0, limit: 4 },
          daily: { used: 1, limit: 9 },
          maxRunSeconds: 3600,
          overrides: { tier: null, concurrent: null, daily: 9, queued: 4, maxRunSeconds: null },
        });
        expect(Date.parse(listed.daily.resetsAt)).toBe(nextUtcMidnight(Date.now()));
        expect(items.find((u) => u.userId === 'root')).toMatchObject({ role: 'admin', tier: 'standard' });
      } finally {
        await cancelAll(server, token);
      }
    });

    it("lists every user's runs, filtered by userId and status", async () => {
      const one = server.token('runs-one');
      const two = server.token('runs-two');
      const a = await accepted(server, one, { agent: 'fast' });
      const b = await accepted(server, two, { agent: 'fast' });
      const c = await accepted(server, two, { agent: 'fail' });
      for (const [token, id] of [[one, a.id], [two, b.id], [two, c.id]] as const) await waitForStatus(server, token, id, FINAL);

      const all = await server.request('GET', '/api/v1/admin/runs?limit=100', { token: admin() });
      expect(all.status, all.text).toBe(200);
      const ids = all.json.items.map((run: Json) => run.id);
      expect(ids).toEqual(expect.arrayContaining([a.id, b.id, c.id]));
      expect(new Set(all.json.items.map((run: Json) => run.userId)).size).toBeGreaterThan(2);

      const ofTwo = await server.request('GET', '/api/v1/admin/runs?userId=runs-two', { token: admin() });
      expect(ofTwo.status).toBe(200);
      expect(ofTwo.json.items.map((run: Json) => run.id).sort()).toEqual([b.id, c.id].sort());

      const failedOfTwo = await server.request('GET', '/api/v1/admin/runs?userId=runs-two&status=failed', { token: admin() });
      expect(failedOfTwo.json.items.map((run: Json) => run.id)).toEqual([c.id]);
      const failed = await server.request('GET', '/api/v1/admin/runs?status=failed&limit=100', { token: admin() });
      expect(failed.json.items.length).toBeGreaterThan(0);
      expect(failed.json.items.every((run: Json) => run.status === 'failed')).toBe(true);
      expect(failed.json.items.map((run: Json) => run.id)).toContain(c.id);

      const page = await server.request('GET', '/api/v1/admin/runs?limit=1', { token: admin() });
      expect(page.json.items).toHaveLength(1);
      expect(page.json.nextCursor).toEqual(expect.any(String));

      expectProblem(await server.request('GET', '/api/v1/admin/runs?limit=1000', { token: admin() }), 400, 'validation_failed');
      expectProblem(await server.request('GET', '/api/v1/admin/runs?status=bogus', { token: admin() }), 400, 'validation_failed');
      // A user's own list still shows only their runs.
      expect((await ownRuns(server, one)).map((run) => run.id)).toEqual([a.id]);
    });
  });

  describe('autocode quota and users commands', () => {
    let env: Record<string, string>;

    beforeAll(() => {
      env = environment(server.dataDir, server.database, FIXTURE_AGENTS);
    });

    it('sets, shows and clears overrides, and the running server applies them at once', async () => {
      const set = await cli(env, 'quota', 'set', '--user', 'cli-user', '--daily', '7');
      expect(set.status, set.stderr).toBe(0);
      expect(set.stdout).toMatch(/^user\s+cli-user$/m);
      expect(set.stdout).toMatch(/^daily\s+0\/7 \(override\)/m);

      const shown = await cli(env, 'quota', 'show', '--user', 'cli-user', '--json');
      expect(shown.status, shown.stderr).toBe(0);
      const view = JSON.parse(shown.stdout);
      expect(view).toMatchObject({ userId: 'cli-user', tier: 'standard', daily: { used: 0, limit: 7 }, overrides: { daily: 7 } });

      const cleared = await cli(env, 'quota', 'set', '--user', 'cli-user', '--daily', 'default');
      expect(cleared.status, cleared.stderr).toBe(0);
      expect(cleared.stdout).toMatch(/^daily\s+0\/50,/m);
      const after = JSON.parse((await cli(env, 'quota', 'show', '--user', 'cli-user', '--json')).stdout);
      expect(after.daily.limit).toBe(50);
      expect(after.overrides.daily).toBeNull();

      const users = await cli(env, 'users', 'list', '--json');
      expect(users.status, users.stderr).toBe(0);
      expect(JSON.parse(users.stdout).items.map((u: Json) => u.userId)).toContain('cli-user');

      // The server reads the override the CLI wrote, with no restart and no cache in the way.
      const token = server.token('cli-user');
      const first = await accepted(server, token, { agent: 'fast' });
      await waitForStatus(server, token, first.id, FINAL);
      const limited = await cli(env, 'quota', 'set', '--user', 'cli-user', '--daily', '1');
      expect(limited.status, limited.stderr).toBe(0);
      const refused = await submit(server, token, { agent: 'fast' });
      expectProblem(refused, 429, 'daily_limit');
      expect(refused.json).toMatchObject({ limit: 1, used: 1 });
      expect((await quotaOf(server, token)).daily).toMatchObject({ used: 1, limit: 1 });
    });

    it('sets and clears a daily budget override with --daily-budget-usd, which the running server applies', async () => {
      const set = await cli(env, 'quota', 'set', '--user', 'cli-budget', '--daily-budget-usd', '0.25');
      expect(set.status, set.stderr).toBe(0);
      expect(set.stdout).toMatch(/^budget\s+\$0\.00 of \$0\.25 today \(override\)$/m);
      const shown = JSON.parse((await cli(env, 'quota', 'show', '--user', 'cli-budget', '--json')).stdout);
      expect(shown).toMatchObject({ budget: { usedUsd: 0, limitUsd: 0.25 }, overrides: { dailyBudgetUsd: 0.25 } });

      const token = server.token('cli-budget');
      expect((await quotaOf(server, token)).budget).toEqual({ usedUsd: 0, limitUsd: 0.25 });
      expectProblem(await submit(server, token, { agent: 'fast', maxBudgetUsd: 0.5 }), 400, 'budget_exceeds_quota');

      const bad = await cli(env, 'quota', 'set', '--user', 'cli-budget', '--daily-budget-usd', '-1');
      expect(bad.status).toBe(2);
      expect(bad.stderr).toContain('--daily-budget-usd');
      const cleared = await cli(env, 'quota', 'set', '--user', 'cli-budget', '--daily-budget-usd', 'default');
      expect(cleared.status, cleared.stderr).toBe(0);
      expect(cleared.stdout).toMatch(/^budget\s+\$0\.00 of \$20\.00 today$/m);
      expect((await quotaOf(server, token)).budget).toEqual({ usedUsd: 0, limitUsd: 20 });
    });

    it('exits 2 on bad usage and 1 for an unknown user', async () => {
      const bad = await cli(env, 'quota', 'set', '--user', 'x', '--daily', 'abc');
      expect(bad.status).toBe(2);
      expect(bad.stderr).toContain('--daily');
      expect((await cli(env, 'quota', 'set', '--user', 'x')).status).toBe(2);
      const nobody = await cli(env, 'quota', 'show', '--user', 'nobody');
      expect(nobody.status).toBe(1);
      expect(nobody.stderr).toContain('nobody');
      // Bad usage wrote nothing.
      const users = JSON.parse((await cli(env, 'users', 'list', '--json')).stdout).items.map((u: Json) => u.userId);
      expect(users).not.toContain('x');
    });
  });
});

describe('quota day rollover with an injected clock', () => {
  const clock = new ManualClock(new Date('2026-03-10T23:59:58Z'));
  let server: TestServer;

  beforeAll(async () => {
    server = await startTestServer({ clock });
  });
  afterAll(async () => disposeTestServer(server));

  it('counts runs per UTC day and resets at midnight', async () => {
    await setQuota(server, 'night-owl', { daily: 1 });
    const token = server.token('night-owl');
    const first = await accepted(server, token, { agent: 'fast' });
    expect(first.createdAt).toBe('2026-03-10T23:59:58.000Z');
    const second = await submit(server, token, { agent: 'fast' });
    expectProblem(second, 429, 'daily_limit');
    expect(second.json).toMatchObject({ limit: 1, used: 1, resetsAt: '2026-03-11T00:00:00.000Z' });
    expect(Math.abs(retryAfter(second) - 2)).toBeLessThanOrEqual(1);
    expect((await quotaOf(server, token)).daily).toEqual({ used: 1, limit: 1, resetsAt: '2026-03-11T00:00:00.000Z' });

    clock.set(new Date('2026-03-11T00:00:01Z'));
    const third = await accepted(server, token, { agent: 'fast' });
    expect(third.createdAt).toBe('2026-03-11T00:00:01.000Z');
    const quota = await quotaOf(server, token);
    expect(quota.daily).toEqual({ used: 1, limit: 1, resetsAt: '2026-03-12T00:00:00.000Z' });
    expectProblem(await submit(server, token, { agent: 'fast' }), 429, 'daily_limit');
    await drain(server, token);
  });
});

describe('request rate limit', () => {
  let server: TestServer;

  beforeAll(async () => {
    server = await startTestServer({ env: { RATE_LIMIT_PER_MINUTE: '5' } });
  });
  afterAll(async () => disposeTestServer(server));

  it('refuses the sixth request of a minute per user with rate_limited, and never limits /health/live', async () => {
    const greedy = server.token('greedy');
    for (let i = 0; i < 5; i++) {
      const response = await server.request('GET', '/api/v1/runs', { token: greedy });
      expect(response.status, `request ${i + 1}`).toBe(200);
    }
    const sixth = await server.request('GET', '/api/v1/runs', { token: greedy });
    expectProblem(sixth, 429, 'rate_limited');
    const wait = retryAfter(sixth);
    expect(wait).toBeLessThanOrEqual(60);

    const other = server.token('patient');
    expect((await server.request('GET', '/api/v1/runs', { token: other })).status).toBe(200);

    for (let i = 0; i < 20; i++) {
      const live = await server.request('GET', '/health/live');
      expect(live.status, `health call ${i + 1}`).toBe(200);
    }
    // Still limited after all that.
    expectProblem(await server.request('GET', '/api/v1/runs', { token: greedy }), 429, 'rate_limited');
  });

  // One budget per user across routes, not one per route.
  it("counts every route against one per-user budget", async () => {
    const token = server.token('spread');
    const paths = ['/api/v1/runs', '/api/v1/quota', '/api/v1/agents', '/api/v1/runs', '/api/v1/quota'];
    for (const path of paths) expect((await server.request('GET', path, { token })).status, path).toBe(200);
    expectProblem(await server.request('GET', '/api/v1/agents', { token }), 429, 'rate_limited');
  });
});

/** Runs the built CLI without blocking the event loop (the server under test lives in this process). */
function cli(env: Record<string, string>, ...args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [new URL('../dist/cli.js', import.meta.url).pathname, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => (stderr += chunk));
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.on('error', reject);
    child.on('close', (status) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr });
    });
  });
}
