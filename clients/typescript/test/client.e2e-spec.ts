import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, it } from '@jest/globals';
import { expect } from '../../../test/jest/expect.js';
import { disposeTestServer, startTestServer, waitForStatus, type TestServer } from '../../../test/helpers/test-server.js';
import { DatabaseService } from '../../../src/database/database.service.js';
import { AutocodeError, createClient, type AutocodeClient, type Run, type RunEvent } from '../src/index.js';

// The client against the real server, in-process on 127.0.0.1: real HTTP, real SSE, real agents.

if (spawnSync('git', ['--version']).status !== 0) throw new Error('these tests need git on PATH');

async function collect<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const items: T[] = [];
  for await (const item of iterable) items.push(item);
  return items;
}

/** What a call rejected with, which must be an `AutocodeError`. */
async function refusal(promise: Promise<unknown>): Promise<AutocodeError> {
  const error = await promise.then(
    (value) => new Error(`expected a refusal, got ${JSON.stringify(value)}`),
    (reason: unknown) => reason,
  );
  if (!(error instanceof AutocodeError)) throw error;
  return error;
}

describe('@autocode/client', () => {
  let server: TestServer;
  let alice: AutocodeClient;

  beforeAll(async () => {
    server = await startTestServer();
    alice = createClient({ baseUrl: server.url, token: server.token('alice') });
  });
  afterAll(async () => {
    if (server) await disposeTestServer(server);
  });

  it('submits a run and follows its events to the final status: seq 1..N, each once', async () => {
    const submitted = await alice.submitRun({ agent: 'lines', prompt: 'print five lines' });
    expect(submitted).toMatchObject({ agent: 'lines', status: 'queued', userId: 'alice' });

    const events: RunEvent[] = await collect(alice.followRun(submitted.id));
    expect(events.map((event) => event.seq)).toEqual(events.map((_, i) => i + 1));
    expect(events.at(-1)).toMatchObject({ type: 'status', data: { status: 'succeeded' } });
    const lines = events.flatMap((event) => (event.type === 'stdout' ? [event.data.line] : []));
    expect(lines).toEqual(['line 1', 'line 2', 'line 3', 'line 4', 'line 5']);

    // Following a finished run replays it; `after` skips what the caller already has.
    const replayed = await collect(alice.followRun(submitted.id));
    expect(replayed).toEqual(events);
    const rest = await collect(alice.followRun(submitted.id, { after: 3 }));
    expect(rest.map((event) => event.seq)).toEqual(events.slice(3).map((event) => event.seq));
    // After the last event there is nothing to wait for.
    expect(await collect(alice.followRun(submitted.id, { after: events.length }))).toEqual([]);
  });

  it('waits for a run and answers the finished run', async () => {
    const submitted = await alice.submitRun({ agent: 'fail', prompt: 'fail' });
    const seen: number[] = [];
    const finished: Run = await alice.waitForRun(submitted.id, { onEvent: (event) => seen.push(event.seq) });
    expect(finished).toMatchObject({ id: submitted.id, status: 'failed', exitCode: 3 });
    expect(finished.finishedAt).not.toBeNull();
    expect(seen).toEqual(seen.map((_, i) => i + 1));
  });

  it('lists every run across pages, newest first', async () => {
    const lister = createClient({ baseUrl: server.url, token: server.token('lister') });
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push((await lister.submitRun({ agent: 'fast', prompt: `run ${i}` })).id);
    for (const id of ids) await lister.waitForRun(id);

    let pages = 0;
    const counting = createClient({
      baseUrl: server.url,
      token: server.token('lister'),
      fetch: (input, init) => {
        if (new URL(input instanceof Request ? input.url : String(input)).pathname === '/api/v1/runs') pages += 1;
        return fetch(input, init);
      },
    });
    const listed = await collect(counting.listRuns({ limit: 2 }));
    expect(listed.map((run) => run.id)).toEqual([...ids].reverse());
    expect(pages, 'five runs in pages of two').toBe(3);
    expect((await collect(counting.listRuns({ agent: 'lines' }))).length).toBe(0);

    // The typed openapi-fetch client is there too, for single pages.
    const { data } = await lister.GET('/api/v1/runs', { params: { query: { limit: 1 } } });
    expect(data?.items.map((run) => run.id)).toEqual([ids[4]]);
    expect(typeof data?.nextCursor).toBe('string');
  });

  it('reads a run log', async () => {
    const run = await alice.waitForRun((await alice.submitRun({ agent: 'lines', prompt: 'log' })).id);
    const log = await alice.getLogs(run.id);
    expect(log).toContain('line 1\n');
    expect(log).toContain('line 5\n');
    expect(log).toContain('done on stderr');
  });

  it('reads the diff of a run on a named workspace', async () => {
    const created = await alice.POST('/api/v1/workspaces', { body: { name: 'client-ws' } });
    expect(created.response.status, JSON.stringify(created.error)).toBe(201);
    const prompt = JSON.stringify({ file: 'hello.txt', content: 'hello from the client\n' });
    const run = await alice.waitForRun((await alice.submitRun({ agent: 'writer', workspace: 'client-ws', prompt })).id);
    expect(run.status).toBe('succeeded');
    const diff = await alice.getDiff(run.id);
    expect(diff).toContain('+++ b/hello.txt');
    expect(diff).toContain('+hello from the client');

    // A run without a named workspace has no diff.
    const plain = await alice.waitForRun((await alice.submitRun({ agent: 'fast', prompt: 'no workspace' })).id);
    expect((await refusal(alice.getDiff(plain.id))).code).toBe('diff_not_found');
  });

  it('cancels a running run; cancelling it again is 409 run_finished', async () => {
    const run = await alice.submitRun({ agent: 'sleeper', prompt: 'sleep' });
    await waitForStatus(server, server.token('alice'), run.id, ['running']);
    const cancelled = await alice.cancelRun(run.id);
    expect(cancelled.cancelRequested).toBe(true);
    expect((await alice.waitForRun(run.id)).status).toBe('cancelled');

    const again = await refusal(alice.cancelRun(run.id));
    expect(again).toMatchObject({ status: 409, code: 'run_finished' });
    expect(again.problem.runStatus).toBe('cancelled');
  });

  it('decides a tool call a run waits on, and throws approval_closed for a second decision', async () => {
    const running = await alice.submitRun({ agent: 'sleeper', prompt: 'wait' });
    await waitForStatus(server, server.token('alice'), running.id, ['running']);
    // Stored as the node running a gated claude agent stores it (test/approvals.e2e-spec.ts runs one).
    const approvalId = randomUUID();
    const database = server.app.get(DatabaseService);
    const now = Date.now();
    await database.query(database.dataSource.manager, 'INSERT INTO run_approvals (id, run_id, tool, input, requested_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)', [
      approvalId,
      running.id,
      'Bash',
      '{"command":"make deploy"}',
      new Date(now).toISOString(),
      new Date(now + 60_000).toISOString(),
    ]);
    expect((await alice.getRun(running.id)).pendingApproval).toMatchObject({ approvalId, tool: 'Bash', input: { command: 'make deploy' } });
    const decided = await alice.decideApproval(running.id, approvalId, { decision: 'deny', message: 'not now' });
    expect(decided).toMatchObject({ id: running.id, pendingApproval: null });
    const closed = await refusal(alice.decideApproval(running.id, approvalId, { decision: 'allow' }));
    expect([closed.status, closed.code]).toEqual([409, 'approval_closed']);
    await alice.cancelRun(running.id);
  });

  it('reads the quota', async () => {
    const quotaUser = createClient({ baseUrl: server.url, token: server.token('quota-user') });
    await quotaUser.waitForRun((await quotaUser.submitRun({ agent: 'fast', prompt: 'count me' })).id);
    const quota = await quotaUser.getQuota();
    expect(quota).toMatchObject({ tier: 'standard', concurrent: { used: 0, limit: 3 }, daily: { used: 1, limit: 50 }, maxRunSeconds: 3600 });
    expect(Date.parse(quota.daily.resetsAt)).toBeGreaterThan(Date.now());
  });

  it('replays an idempotent submit, and refuses the same key with another body', async () => {
    const key = `client-${randomUUID()}`;
    const first = await alice.submitRun({ agent: 'fast', prompt: 'once' }, { idempotencyKey: key });
    const again = await alice.submitRun({ agent: 'fast', prompt: 'once' }, { idempotencyKey: key });
    expect(again.id).toBe(first.id);
    expect(again.createdAt).toBe(first.createdAt);

    const other = await refusal(alice.submitRun({ agent: 'fast', prompt: 'twice' }, { idempotencyKey: key }));
    expect(other).toMatchObject({ status: 422, code: 'idempotency_key_reused' });
    await alice.waitForRun(first.id);
  });

  describe('typed errors from problem+json', () => {
    it('401 unauthorized', async () => {
      const stranger = createClient({ baseUrl: server.url, token: 'not-a-jwt' });
      const error = await refusal(stranger.getQuota());
      expect(error).toBeInstanceOf(Error);
      expect(error).toMatchObject({ name: 'AutocodeError', status: 401, code: 'unauthorized', retryAfter: null });
      expect(error.problem).toMatchObject({ status: 401, code: 'unauthorized', title: 'Unauthorized' });
      expect(error.message).toContain('unauthorized');
    });

    it('404 run_not_found, also for another user\'s run and when following it', async () => {
      const missing = await refusal(alice.getRun(randomUUID()));
      expect(missing).toMatchObject({ status: 404, code: 'run_not_found' });
      expect(missing.detail.length).toBeGreaterThan(0);

      const bobs = await createClient({ baseUrl: server.url, token: server.token('bob') }).submitRun({ agent: 'fast', prompt: 'mine' });
      expect((await refusal(alice.getRun(bobs.id))).code).toBe('run_not_found');
      expect((await refusal(collect(alice.followRun(bobs.id)))).code).toBe('run_not_found');
    });

    it('400 validation_failed with the failed constraints', async () => {
      const error = await refusal(alice.submitRun({ agent: 'fast', prompt: '   ' }));
      expect(error).toMatchObject({ status: 400, code: 'validation_failed' });
      expect(Array.isArray(error.problem.errors)).toBe(true);
      expect((await refusal(alice.getRun('not-a-uuid'))).code).toBe('validation_failed');
      expect((await refusal(alice.submitRun({ agent: 'nobody', prompt: 'hi' }))).code).toBe('unknown_agent');
    });

    it('429 daily_limit with retryAfter in seconds from Retry-After', async () => {
      const limit = await server.request('PUT', '/api/v1/admin/users/limited/quota', { token: server.token('root', { admin: true }), body: { daily: 1 } });
      expect(limit.status, limit.text).toBe(200);
      const limited = createClient({ baseUrl: server.url, token: server.token('limited') });
      await limited.waitForRun((await limited.submitRun({ agent: 'fast', prompt: 'the only one today' })).id);

      const error = await refusal(limited.submitRun({ agent: 'fast', prompt: 'one more' }));
      expect(error).toMatchObject({ status: 429, code: 'daily_limit' });
      expect(error.problem).toMatchObject({ limit: 1, used: 1 });
      expect(error.retryAfter).toBeGreaterThan(0);
      expect(error.retryAfter).toBeLessThanOrEqual(86_400);
      // Retry-After says when the day resets, in seconds.
      const untilReset = (Date.parse(String(error.problem.resetsAt)) - Date.now()) / 1000;
      expect(Math.abs(error.retryAfter! - untilReset), `retryAfter ${error.retryAfter}, reset in ${untilReset} s`).toBeLessThan(5);
    });

    it('an answer that is not a problem document is unexpected_response, keeping Retry-After', () => {
      const error = AutocodeError.fromResponse(new Response('<html>Bad Gateway</html>', { status: 502, headers: { 'retry-after': '7' } }), '<html>Bad Gateway</html>');
      expect(error).toMatchObject({ status: 502, code: 'unexpected_response', retryAfter: 7, detail: '<html>Bad Gateway</html>' });
    });
  });
});
