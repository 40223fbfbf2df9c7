import { createHmac, randomBytes, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, it } from '@jest/globals';
import { expect } from './jest/expect.js';
import { disposeTestServer, startTestServer, waitFor, waitForStatus, type TestResponse, type TestServer } from './helpers/test-server.js';

// Authentication and per-user isolation, over real HTTP against a real server.
// Tokens are crafted by hand (node:crypto) so that every way a token can be wrong is exercised.

type Json = Record<string, unknown>;

function b64url(value: string | Buffer): string {
  return Buffer.from(value).toString('base64url');
}

/** A JWT signed with HMAC (`sha256` = HS256, `sha512` = HS512); the header says what `header` says. */
function hmacToken(header: Json, payload: Json, secret: string | Buffer, hash: 'sha256' | 'sha512' = 'sha256'): string {
  const signingInput = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(payload))}`;
  return `${signingInput}.${createHmac(hash, secret).update(signingInput).digest('base64url')}`;
}

const now = (): number => Math.floor(Date.now() / 1000);
const HS256 = { alg: 'HS256', typ: 'JWT' };

/** Reads the server's generated HS256 secret the way the server does. */
function serverSecret(server: TestServer): string {
  return readFileSync(join(server.dataDir, 'jwt.secret'), 'utf8').trim();
}

/** Asserts a problem+json response with the given status and code, and the problem shape. */
function expectProblem(response: TestResponse, status: number, code: string): void {
  expect(response.status, response.text).toBe(status);
  expect(response.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  expect(response.json).toMatchObject({ status, code });
  expect(typeof response.json.type).toBe('string');
  expect(typeof response.json.title).toBe('string');
  expect(typeof response.json.detail).toBe('string');
  expect(response.text).not.toMatch(/stack/i);
  expect(response.text).not.toMatch(/ at .*\.(ts|js):/);
}

function expectUnauthorized(response: TestResponse): void {
  expectProblem(response, 401, 'unauthorized');
  expect(response.headers.get('www-authenticate')).toMatch(/^Bearer/);
}

/** A request with an abort timeout, so a wrongly opened SSE stream cannot hang the test. */
async function requestWithTimeout(
  server: TestServer,
  method: string,
  path: string,
  headers: Record<string, string>,
  timeoutMs = 5_000,
): Promise<TestResponse> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), timeoutMs);
  try {
    const response = await fetch(server.url + path, { method, headers, signal: controller.signal });
    const text = await response.text();
    let json: unknown = null;
    try {
      json = JSON.parse(text);
    } catch {
      json = null;
    }
    return { status: response.status, headers: response.headers, text, json };
  } finally {
    clearTimeout(timer);
  }
}

describe('authentication', () => {
  let server: TestServer;
  let secret: string;

  beforeAll(async () => {
    server = await startTestServer();
    secret = serverSecret(server);
  });
  afterAll(async () => disposeTestServer(server));

  const list = (headers: Record<string, string> = {}): Promise<TestResponse> => server.request('GET', '/api/v1/runs', { headers });
  const withToken = (token: string): Promise<TestResponse> => list({ authorization: `Bearer ${token}` });

  it('accepts a hand-made HS256 token signed with the server secret (control for the crafted tokens below)', async () => {
    const response = await withToken(hmacToken(HS256, { sub: 'handmade-user', exp: now() + 600 }, secret));
    expect(response.status, response.text).toBe(200);
    expect(response.json).toEqual({ items: [], nextCursor: null });
  });

  it('refuses a request without an Authorization header', async () => {
    expectUnauthorized(await list());
  });

  it('refuses a header that is not "Bearer <token>"', async () => {
    const valid = server.token('alice');
    expectUnauthorized(await list({ authorization: 'Token x' }));
    expectUnauthorized(await list({ authorization: 'Bearer' }));
    expectUnauthorized(await list({ authorization: 'Bearer ' }));
    expectUnauthorized(await list({ authorization: `Basic ${valid}` }));
    expectUnauthorized(await list({ authorization: 'Bearer not.a.jwt' }));
  });

  it('refuses an expired token', async () => {
    expectUnauthorized(await withToken(hmacToken(HS256, { sub: 'alice', iat: now() - 7200, exp: now() - 3600 }, secret)));
  });

  it('refuses a token issued (iat) or valid from (nbf) more than 60 s ahead, and allows 30 s of clock skew', async () => {
    const ahead = (claim: 'iat' | 'nbf', seconds: number): string =>
      hmacToken(HS256, { sub: `skew-${claim}-${seconds}`, [claim]: now() + seconds, exp: now() + 3600 }, secret);
    expectUnauthorized(await withToken(ahead('iat', 120)));
    expectUnauthorized(await withToken(ahead('nbf', 120)));
    const iat30 = await withToken(ahead('iat', 30));
    expect(iat30.status, iat30.text).toBe(200);
    const nbf30 = await withToken(ahead('nbf', 30));
    expect(nbf30.status, nbf30.text).toBe(200);
  });

  it('refuses an unsigned token (alg: none)', async () => {
    const header = b64url(JSON.stringify({ alg: 'none', typ: 'JWT' }));
    const payload = b64url(JSON.stringify({ sub: 'alice', iat: now(), exp: now() + 600 }));
    expectUnauthorized(await withToken(`${header}.${payload}.`));
  });

  it('refuses a token whose signature was tampered with', async () => {
    const valid = server.token('alice');
    expect((await withToken(valid)).status).toBe(200);
    const [header, payload, signature] = valid.split('.') as [string, string, string];
    const swap = (c: string): string => (c === 'A' ? 'B' : 'A');
    const tampered = signature.slice(0, -4) + [...signature.slice(-4)].map(swap).join('');
    // The decoded signature really differs (not just its base64url padding bits).
    expect(Buffer.from(tampered, 'base64url').equals(Buffer.from(signature, 'base64url'))).toBe(false);
    expectUnauthorized(await withToken(`${header}.${payload}.${tampered}`));
  });

  it('refuses a token signed with another secret', async () => {
    const other = randomBytes(48).toString('hex');
    expectUnauthorized(await withToken(hmacToken(HS256, { sub: 'alice', exp: now() + 600 }, other)));
  });

  it('refuses a token without exp', async () => {
    expectUnauthorized(await withToken(hmacToken(HS256, { sub: 'alice', iat: now() }, secret)));
  });

  it('refuses a token signed with HS512 using the right secret (the algorithm is pinned to HS256)', async () => {
    expectUnauthorized(await withToken(hmacToken({ alg: 'HS512', typ: 'JWT' }, { sub: 'alice', exp: now() + 600 }, secret, 'sha512')));
  });

  it('refuses a token whose sub is longer than 128 characters, or missing', async () => {
    expect((await withToken(hmacToken(HS256, { sub: 'u'.repeat(128), exp: now() + 600 }, secret))).status).toBe(200);
    expectUnauthorized(await withToken(hmacToken(HS256, { sub: 'u'.repeat(129), exp: now() + 600 }, secret)));
    expectUnauthorized(await withToken(hmacToken(HS256, { exp: now() + 600 }, secret)));
  });

  it('creates a user on first sight: a valid token for a new user lists no runs', async () => {
    const response = await server.request('GET', '/api/v1/runs', { token: server.token(`newcomer-${randomUUID()}`) });
    expect(response.status, response.text).toBe(200);
    expect(response.json).toEqual({ items: [], nextCursor: null });
  });
});

describe('issuer and audience', () => {
  let server: TestServer;
  let secret: string;

  beforeAll(async () => {
    server = await startTestServer({ env: { JWT_ISSUER: 'https://issuer.test', JWT_AUDIENCE: 'autocode' } });
    secret = serverSecret(server);
  });
  afterAll(async () => disposeTestServer(server));

  const withToken = (token: string): Promise<TestResponse> => server.request('GET', '/api/v1/runs', { token });

  it('accepts a token carrying the configured iss and aud', async () => {
    const token = server.token('ivan');
    const claims = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString('utf8'));
    expect(claims).toMatchObject({ iss: 'https://issuer.test', aud: 'autocode' });
    const response = await withToken(token);
    expect(response.status, response.text).toBe(200);
    expect(response.json).toEqual({ items: [], nextCursor: null });
    // And the same claims made by hand (control for the refusals below).
    const handmade = hmacToken(HS256, { sub: 'ivan', iss: 'https://issuer.test', aud: 'autocode', exp: now() + 600 }, secret);
    expect((await withToken(handmade)).status).toBe(200);
  });

  it.each([
    ['a wrong iss', { iss: 'https://evil.test', aud: 'autocode' }],
    ['no iss', { aud: 'autocode' }],
    ['a wrong aud', { iss: 'https://issuer.test', aud: 'someone-else' }],
    ['no aud', { iss: 'https://issuer.test' }],
    ['neither iss nor aud', {}],
  ])('refuses a correctly signed token with %s', async (_what, claims) => {
    expectUnauthorized(await withToken(hmacToken(HS256, { sub: 'ivan', exp: now() + 600, ...claims }, secret)));
  });
});

describe('isolation between users', () => {
  let server: TestServer;
  let alice: string;
  let bob: string;
  let running: string;
  let finished: string;

  beforeAll(async () => {
    server = await startTestServer();
    alice = server.token('alice');
    bob = server.token('bob');
    const first = await server.request('POST', '/api/v1/runs', { token: alice, body: { agent: 'sleeper', prompt: 'stay running' } });
    expect(first.status, first.text).toBe(202);
    running = first.json.id;
    const second = await server.request('POST', '/api/v1/runs', { token: alice, body: { agent: 'lines', prompt: 'finish' } });
    expect(second.status, second.text).toBe(202);
    finished = second.json.id;
    await waitForStatus(server, alice, running, ['running']);
    await waitForStatus(server, alice, finished, ['succeeded']);
  });
  afterAll(async () => {
    // Nothing is left running, whatever happened above.
    const run = await server.request('GET', `/api/v1/runs/${running}`, { token: alice });
    if (run.json?.status === 'running' || run.json?.status === 'queued') {
      await server.request('POST', `/api/v1/runs/${running}/cancel`, { token: alice });
      await waitForStatus(server, alice, running, ['cancelled', 'failed', 'succeeded', 'timed_out']).catch(() => undefined);
    }
    await disposeTestServer(server);
  });

  /** Every route that names a run, as user `token`. */
  async function probe(token: string, id: string): Promise<Record<string, TestResponse>> {
    const auth = { authorization: `Bearer ${token}` };
    return {
      get: await server.request('GET', `/api/v1/runs/${id}`, { token }),
      cancel: await server.request('POST', `/api/v1/runs/${id}/cancel`, { token }),
      eventsJson: await server.request('GET', `/api/v1/runs/${id}/events`, { token }),
      eventsSse: await requestWithTimeout(server, 'GET', `/api/v1/runs/${id}/events`, { ...auth, accept: 'text/event-stream' }),
      logs: await server.request('GET', `/api/v1/runs/${id}/logs`, { token }),
    };
  }

  it("answers 404 run_not_found on every route of another user's runs", async () => {
    for (const id of [running, finished]) {
      const answers = await probe(bob, id);
      for (const [route, response] of Object.entries(answers)) {
        expect(response.status, `${route} ${id}: ${response.text}`).toBe(404);
        expectProblem(response, 404, 'run_not_found');
        expect(response.text).not.toContain('alice');
      }
    }
  });

  it("leaves the other user's running run running after a refused cancel", async () => {
    const cancel = await server.request('POST', `/api/v1/runs/${running}/cancel`, { token: bob });
    expectProblem(cancel, 404, 'run_not_found');
    // Give a wrongly honoured cancel time to take effect before looking.
    await new Promise((resolve) => setTimeout(resolve, 300));
    const run = await server.request('GET', `/api/v1/runs/${running}`, { token: alice });
    expect(run.status).toBe(200);
    expect(run.json).toMatchObject({ status: 'running', cancelRequested: false, userId: 'alice' });
  });

  it("does not list another user's runs", async () => {
    const bobs = await server.request('GET', '/api/v1/runs?limit=100', { token: bob });
    expect(bobs.status).toBe(200);
    expect(bobs.json).toEqual({ items: [], nextCursor: null });
    const alices = await server.request('GET', '/api/v1/runs?limit=100', { token: alice });
    expect(alices.json.items.map((run: { id: string }) => run.id).sort()).toEqual([running, finished].sort());
  });

  it("makes another user's run indistinguishable from a run that does not exist", async () => {
    const missing = randomUUID();
    const theirs = await probe(bob, running);
    const nobodys = await probe(bob, missing);
    for (const route of Object.keys(theirs)) {
      const a = theirs[route]!;
      const b = nobodys[route]!;
      expectProblem(b, 404, 'run_not_found');
      expect(a.status, route).toBe(b.status);
      expect(a.headers.get('content-type'), route).toBe(b.headers.get('content-type'));
      expect(Object.keys(a.json).sort(), route).toEqual(Object.keys(b.json).sort());
      expect({ ...a.json, detail: undefined }, route).toEqual({ ...b.json, detail: undefined });
      // The detail names only the id the caller sent.
      expect(a.json.detail.replace(running, 'ID'), route).toBe(b.json.detail.replace(missing, 'ID'));
    }
  });

  it('lets the owner see and cancel the run', async () => {
    const own = await server.request('GET', `/api/v1/runs/${finished}`, { token: alice });
    expect(own.json).toMatchObject({ id: finished, status: 'succeeded', userId: 'alice' });
    const logs = await server.request('GET', `/api/v1/runs/${finished}/logs`, { token: alice });
    expect(logs.status).toBe(200);
    const cancel = await server.request('POST', `/api/v1/runs/${running}/cancel`, { token: alice });
    expect(cancel.status, cancel.text).toBe(202);
    expect(cancel.json.cancelRequested).toBe(true);
    const run = await waitForStatus(server, alice, running, ['cancelled', 'failed', 'succeeded']);
    expect(run.status).toBe('cancelled');
    await waitFor(async () => {
      const active = await server.request('GET', '/api/v1/runs?status=running', { token: alice });
      return active.json.items.length === 0;
    });
  });
});

describe('public and protected routes', () => {
  let server: TestServer;

  beforeAll(async () => {
    server = await startTestServer();
  });
  afterAll(async () => disposeTestServer(server));

  it('answers the health probes without a token', async () => {
    const live = await server.request('GET', '/health/live');
    expect(live.status, live.text).toBe(200);
    expect(live.json).toEqual({ status: 'ok' });
    const ready = await server.request('GET', '/health/ready');
    expect(ready.status, ready.text).toBe(200);
  });

  it('protects the agent list', async () => {
    expectUnauthorized(await server.request('GET', '/api/v1/agents'));
    const withToken = await server.request('GET', '/api/v1/agents', { token: server.token('alice') });
    expect(withToken.status).toBe(200);
    expect(withToken.json.items.map((agent: { name: string }) => agent.name)).toContain('sleeper');
  });
});
