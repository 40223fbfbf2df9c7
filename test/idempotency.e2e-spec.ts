import { afterAll, beforeAll, describe, it } from '@jest/globals';
import { expect } from './jest/expect.js';
import { disposeTestServer, ManualClock, startTestServer, type TestResponse, type TestServer } from './helpers/test-server.js';

// Idempotency-Key on POST /api/v1/runs, over real HTTP against a real server (SQLite here,
// PostgreSQL in the services suite; across two replicas in quota-replicas.services-spec.ts).

describe('Idempotency-Key on POST /api/v1/runs', () => {
  const clock = new ManualClock(new Date());
  let server: TestServer;

  beforeAll(async () => {
    server = await startTestServer({ clock });
  });
  afterAll(async () => disposeTestServer(server));

  function submit(user: string, key: string | null, body: Record<string, unknown> = { agent: 'fast', prompt: 'once' }): Promise<TestResponse> {
    return server.request('POST', '/api/v1/runs', { token: server.token(user), body, headers: key === null ? {} : { 'idempotency-key': key } });
  }

  async function runCount(user: string): Promise<number> {
    const page = await server.request('GET', '/api/v1/runs?limit=100', { token: server.token(user) });
    return (page.json.items as unknown[]).length;
  }

  it('answers a retry with the same key and body with the first answer, marked replayed, and creates one run', async () => {
    const first = await submit('ada', 'deploy-42');
    expect(first.status, first.text).toBe(202);
    expect(first.headers.get('idempotent-replayed')).toBeNull();
    const again = await submit('ada', 'deploy-42');
    expect(again.status, again.text).toBe(202);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(again.json).toEqual(first.json);
    // Key order in the body does not make it another request.
    const reordered = await submit('ada', 'deploy-42', { prompt: 'once', agent: 'fast' });
    expect(reordered.status, reordered.text).toBe(202);
    expect(reordered.json.id).toBe(first.json.id);
    expect(await runCount('ada')).toBe(1);
  });

  it('refuses the same key with another body with 422 idempotency_key_reused, and creates nothing', async () => {
    const first = await submit('bea', 'k1', { agent: 'fast', prompt: 'one thing' });
    expect(first.status, first.text).toBe(202);
    const other = await submit('bea', 'k1', { agent: 'fast', prompt: 'another thing' });
    expect(other.status, other.text).toBe(422);
    expect(other.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(other.json).toMatchObject({ status: 422, code: 'idempotency_key_reused' });
    expect(await runCount('bea')).toBe(1);
  });

  it('creates exactly one run from 50 concurrent submits with one key, and answers them all with it', async () => {
    const answers = await Promise.all(Array.from({ length: 50 }, () => submit('cyd', 'storm')));
    expect(answers.map((answer) => answer.status)).toEqual(Array(50).fill(202));
    expect(new Set(answers.map((answer) => answer.json.id)).size).toBe(1);
    expect(answers.filter((answer) => answer.headers.get('idempotent-replayed') === 'true')).toHaveLength(49);
    expect(await runCount('cyd')).toBe(1);
  });

  it('keeps keys per user: the same key from another user is another run', async () => {
    const mine = await submit('dan', 'shared-key');
    const theirs = await submit('eve', 'shared-key');
    expect(mine.status, mine.text).toBe(202);
    expect(theirs.status, theirs.text).toBe(202);
    expect(theirs.json.id).not.toBe(mine.json.id);
    expect(theirs.headers.get('idempotent-replayed')).toBeNull();
  });

  it('never counts a replay against the quota, and keeps no key for a refused submit', async () => {
    const set = await server.request('PUT', '/api/v1/admin/users/fay/quota', { token: server.token('root', { admin: true }), body: { daily: 1 } });
    expect(set.status, set.text).toBe(200);
    const first = await submit('fay', 'daily-1');
    expect(first.status, first.text).toBe(202);
    const replay = await submit('fay', 'daily-1');
    expect(replay.status, replay.text).toBe(202);
    expect(replay.json.id).toBe(first.json.id);
    const refused = await submit('fay', 'daily-2');
    expect(refused.status, refused.text).toBe(429);
    expect(refused.json.code).toBe('daily_limit');
    // The refused key was not kept: once the limit allows it, the same key creates the run.
    await server.request('PUT', '/api/v1/admin/users/fay/quota', { token: server.token('root', { admin: true }), body: { daily: 2 } });
    const retried = await submit('fay', 'daily-2');
    expect(retried.status, retried.text).toBe(202);
    expect(retried.headers.get('idempotent-replayed')).toBeNull();
    expect(await runCount('fay')).toBe(2);
  });

  it('refuses keys that are empty, longer than 255 characters or not printable ASCII with validation_failed', async () => {
    // fetch refuses to send control characters in a header, so those are left to the HTTP parser's own checks.
    for (const key of ['', 'k'.repeat(256), 'clé']) {
      const response = await submit('gus', key);
      expect(response.status, `${JSON.stringify(key)}: ${response.text}`).toBe(400);
      expect(response.json.code).toBe('validation_failed');
    }
    const longest = await submit('gus', 'k'.repeat(255));
    expect(longest.status, longest.text).toBe(202);
    expect(await runCount('gus')).toBe(1);
  });

  it('lets a key be used afresh after 24 hours', async () => {
    const first = await submit('hal', 'daily-report');
    expect(first.status, first.text).toBe(202);
    const start = clock.now().getTime();
    clock.set(new Date(start + 23 * 3600_000));
    const stillKept = await submit('hal', 'daily-report');
    expect(stillKept.headers.get('idempotent-replayed')).toBe('true');
    expect(stillKept.json.id).toBe(first.json.id);
    clock.set(new Date(start + 24 * 3600_000 + 1000));
    const later = await submit('hal', 'daily-report', { agent: 'fast', prompt: 'a new day' });
    expect(later.status, later.text).toBe(202);
    expect(later.json.id).not.toBe(first.json.id);
    expect(later.headers.get('idempotent-replayed')).toBeNull();
    expect(await runCount('hal')).toBe(2);
  });
});

describe('Idempotency-Key on POST /api/v1/workspaces', () => {
  let server: TestServer;

  beforeAll(async () => {
    server = await startTestServer();
  });
  afterAll(async () => disposeTestServer(server));

  function create(user: string, key: string, body: Record<string, unknown>): Promise<TestResponse> {
    return server.request('POST', '/api/v1/workspaces', { token: server.token(user), body, headers: { 'idempotency-key': key } });
  }

  it('answers a retry with the first answer instead of workspace_exists, and refuses the key for another workspace', async () => {
    const first = await create('ivy', 'ws-1', { name: 'app' });
    expect(first.status, first.text).toBe(201);
    expect(first.json.head).toMatch(/^[0-9a-f]{40}$/);
    const again = await create('ivy', 'ws-1', { name: 'app' });
    expect(again.status, again.text).toBe(201);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(again.json).toEqual(first.json);
    const other = await create('ivy', 'ws-1', { name: 'other' });
    expect(other.status, other.text).toBe(422);
    expect(other.json.code).toBe('idempotency_key_reused');
    // Without the key, the same create is a conflict, as before.
    const plain = await server.request('POST', '/api/v1/workspaces', { token: server.token('ivy'), body: { name: 'app' } });
    expect(plain.status, plain.text).toBe(409);
    const list = await server.request('GET', '/api/v1/workspaces', { token: server.token('ivy') });
    expect(list.json.items.map((item: { name: string }) => item.name)).toEqual(['app']);
  });

  it('creates one workspace from 10 concurrent creates with one key, and answers them all with it', async () => {
    const answers = await Promise.all(Array.from({ length: 10 }, () => create('jon', 'ws-storm', { name: 'stormy' })));
    expect(answers.map((answer) => answer.status)).toEqual(Array(10).fill(201));
    expect(new Set(answers.map((answer) => answer.json.id)).size).toBe(1);
    expect(answers.filter((answer) => answer.headers.get('idempotent-replayed') === 'true')).toHaveLength(9);
  });

  it('does not replay a run key as a workspace: the key names one request of the user', async () => {
    const run = await server.request('POST', '/api/v1/runs', { token: server.token('kim'), body: { agent: 'fast', prompt: 'x' }, headers: { 'idempotency-key': 'shared' } });
    expect(run.status, run.text).toBe(202);
    const workspace = await create('kim', 'shared', { name: 'w' });
    expect(workspace.status, workspace.text).toBe(422);
    expect(workspace.json.code).toBe('idempotency_key_reused');
  });
});
