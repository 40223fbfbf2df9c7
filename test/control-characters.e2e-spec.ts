import { afterAll, beforeAll, describe, it } from '@jest/globals';
import { expect } from './jest/expect.js';
import { hs256Token } from './helpers/tokens.js';
import { disposeTestServer, startTestServer, waitForStatus, type TestResponse, type TestServer } from './helpers/test-server.js';

// NUL and the other C0 control characters are refused in every string a client sends: body
// fields with their nested keys and values, query strings, path parameters, and the token's
// sub. Multi-line text (a prompt, a spec's body, metadata values) may hold tab, LF and CR.
// Runs on SQLite and, in the services suite, on PostgreSQL, whose text cannot hold NUL at all.

function expectRefused(response: TestResponse, what: string, status = 400, code = 'validation_failed'): void {
  expect(response.status, `${what}: ${response.text.slice(0, 300)}`).toBe(status);
  expect(response.headers.get('content-type'), what).toMatch(/^application\/problem\+json/);
  expect(response.json.code, what).toBe(code);
}

/** An HS256 token signed with the server's key, with any claims: `autocode token create` refuses such a sub. */
describe('control characters in requests', () => {
  let server: TestServer;
  let token: string;
  let admin: string;

  beforeAll(async () => {
    server = await startTestServer();
    token = server.token('controller');
    admin = server.token('root', { admin: true });
  });
  afterAll(async () => disposeTestServer(server));

  const submit = (body: unknown): Promise<TestResponse> => server.request('POST', '/api/v1/runs', { token, body });

  it.each([
    ['a prompt with NUL', { prompt: 'a\u0000b' }],
    ['a prompt with BEL', { prompt: 'a\u0007b' }],
    ['a prompt with ESC', { prompt: '\u001b[31mred' }],
    ['a model with NUL', { prompt: 'x', model: 'm\u0000' }],
    ['a model with a line feed', { prompt: 'x', model: 'm\nn' }],
    ['a metadata value with NUL', { prompt: 'x', metadata: { ci: 'build\u000042' } }],
    ['a nested metadata value with NUL', { prompt: 'x', metadata: { a: { b: ['ok', 'n\u0000'] } } }],
    ['a metadata key with NUL', { prompt: 'x', metadata: { 'c\u0000i': 'build-42' } }],
    ['a metadata key with a line feed', { prompt: 'x', metadata: { a: { 'b\nc': 1 } } }],
    ['a property name with NUL', { prompt: 'x', 'model\u0000': 'm' }],
  ])('refuses a submit with %s, and counts no run', async (what, body) => {
    expectRefused(await submit({ agent: 'lines', ...body }), what);
    const quota = await server.request('GET', '/api/v1/quota', { token });
    expect(quota.json.daily.used, what).toBe(0);
  });

  it('accepts tab, line feed and carriage return in a prompt and in metadata values (control)', async () => {
    const response = await submit({ agent: 'lines', prompt: 'fix\tthis:\r\nline two\n', metadata: { note: 'one\ntwo\tthree\r\n' } });
    expect(response.status, response.text).toBe(202);
    expect(response.json).toMatchObject({ prompt: 'fix\tthis:\r\nline two\n', metadata: { note: 'one\ntwo\tthree\r\n' } });
    await waitForStatus(server, token, response.json.id, ['succeeded']);
    const stored = await server.request('GET', `/api/v1/runs/${response.json.id}`, { token });
    expect(stored.json.prompt).toBe('fix\tthis:\r\nline two\n');
  });

  it.each([
    ['GET', '/api/v1/runs?cursor=%00'],
    ['GET', '/api/v1/runs?agent=lines%0A'],
    ['GET', '/api/v1/admin/runs?userId=a%00b'],
    ['GET', '/api/agents/status/a%00b'],
    ['POST', '/api/agents/cancel/a%00b'],
    ['GET', '/api/v1/workspaces/a%00b'],
  ])('refuses %s %s', async (method, path) => {
    expectRefused(await server.request(method, path, { token: path.includes('/admin/') ? admin : token }), `${method} ${path}`);
  });

  it('refuses a user id with NUL in an admin path', async () => {
    expectRefused(await server.request('PUT', '/api/v1/admin/users/a%00b/quota', { token: admin, body: { tier: 'free' } }), 'quota path');
  });

  it('refuses NUL in workspace and spec fields, and takes line breaks in a spec body', async () => {
    expectRefused(await server.request('POST', '/api/v1/workspaces', { token, body: { name: 'w1', repoUrl: 'file:///tmp/x\u0000' } }), 'repoUrl');
    expectRefused(await server.request('POST', '/api/v1/workspaces', { token, body: { name: 'w1', repoUrl: 'file:///tmp/x', ref: 'main\n' } }), 'ref');
    const created = await server.request('POST', '/api/v1/workspaces', { token, body: { name: 'w1' } });
    expect(created.status, created.text).toBe(201);
    const spec = (body: unknown): Promise<TestResponse> => server.request('POST', '/api/v1/workspaces/w1/specs', { token, body });
    expectRefused(await spec({ title: 'a\u0000b', body: 'text' }), 'spec title');
    expectRefused(await spec({ title: 'title', body: 'line\u0000' }), 'spec body');
    const added = await spec({ title: 'title', body: 'line one\r\n\tline two\n' });
    expect(added.status, added.text).toBe(201);
  });

  it('answers a validly signed token whose sub holds a control character with 401 unauthorized', async () => {
    const secret = server.config.auth.secret!;
    for (const sub of ['a\u0000b', 'a\nb', '\u001f']) {
      const response = await server.request('GET', '/api/v1/quota', { token: hs256Token(secret, { sub }) });
      expectRefused(response, JSON.stringify(sub), 401, 'unauthorized');
    }
    const control = await server.request('GET', '/api/v1/quota', { token: hs256Token(secret, { sub: 'plain-user' }) });
    expect(control.status, control.text).toBe(200);
  });
});
