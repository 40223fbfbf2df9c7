import { afterAll, beforeAll, describe, it } from '@jest/globals';
import { TokenService } from '../src/auth/token.service.js';
import { expect } from './jest/expect.js';
import { cli, disposeTestServer, environment, FIXTURE_AGENTS, request, startTestServer, waitForStatus, type TestResponse, type TestServer } from './helpers/test-server.js';

// The dashboard as the server delivers it: its built files with their caching and security
// headers, and its cookie sessions (sign-in with a token or a one-time link, CSRF, sign-out),
// against a real server and the built CLI.

function expectProblem(response: TestResponse, status: number, code: string): void {
  expect(response.status, response.text).toBe(status);
  expect(response.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  expect(response.json).toMatchObject({ status, code });
}

/** The `name=value` of the answer's Set-Cookie, and its attributes. */
function cookieOf(response: TestResponse): { pair: string; attributes: string[] } {
  const header = response.headers.get('set-cookie');
  expect(header, `no Set-Cookie in ${response.status} ${response.text}`).toBeTruthy();
  const [pair, ...attributes] = header!.split(';').map((part) => part.trim());
  return { pair: pair!, attributes };
}

async function signIn(server: TestServer, token: string): Promise<{ cookie: string; csrf: string; response: TestResponse }> {
  const response = await server.request('POST', '/api/v1/session', { body: { token } });
  expect(response.status, response.text).toBe(200);
  return { cookie: cookieOf(response).pair, csrf: response.json.csrfToken, response };
}

describe('the dashboard', () => {
  let server: TestServer;

  beforeAll(async () => {
    server = await startTestServer();
  });
  afterAll(async () => {
    await disposeTestServer(server);
  });

  describe('its files', () => {
    it('serves index.html at / with a strict CSP, no inline script, and no caching', async () => {
      const page = await server.request('GET', '/');
      expect(page.status).toBe(200);
      expect(page.headers.get('content-type')).toMatch(/^text\/html/);
      const csp = page.headers.get('content-security-policy') ?? '';
      expect(csp).toContain("default-src 'self'");
      expect(csp).toContain("script-src 'self'");
      expect(csp).toContain("frame-ancestors 'none'");
      expect(csp).not.toContain('unsafe-inline');
      expect(csp).not.toContain('unsafe-eval');
      expect(page.headers.get('x-content-type-options')).toBe('nosniff');
      expect(page.headers.get('referrer-policy')).toBe('no-referrer');
      expect(page.headers.get('cache-control')).toBe('no-cache');
      const scripts = [...page.text.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/g)];
      expect(scripts.length).toBeGreaterThan(0);
      for (const [, attributes, body] of scripts) {
        expect(attributes).toMatch(/\bsrc="\/assets\/[^"]+\.js"/);
        expect(body!.trim()).toBe('');
      }
      expect(page.text).not.toMatch(/<style\b|\sstyle="|https?:\/\//);
    });

    it('answers each page of the app with index.html, and unknown paths with a 404 problem', async () => {
      const index = await server.request('GET', '/');
      for (const path of ['/runs/0190a1b2-0000-7000-8000-000000000000', '/workspaces', '/quota', '/users', '/nodes', '/login', '/sign-in']) {
        const page = await server.request('GET', path);
        expect(page.status, path).toBe(200);
        expect(page.text, path).toBe(index.text);
      }
      expectProblem(await server.request('GET', '/no-such-page'), 404, 'not_found');
      expectProblem(await server.request('GET', '/api/v1/no-such-route'), 404, 'not_found');
      expectProblem(await server.request('GET', '/assets/no-such-file.js'), 404, 'not_found');
    });

    it('serves the hashed assets for a year, compressed when the browser accepts it, and revalidates index.html by ETag', async () => {
      const index = await server.request('GET', '/');
      const script = /src="(\/assets\/[^"]+\.js)"/.exec(index.text)![1]!;
      const plain = await fetch(server.url + script, { headers: { 'accept-encoding': 'identity' } });
      expect(plain.status).toBe(200);
      expect(plain.headers.get('content-type')).toMatch(/^text\/javascript/);
      expect(plain.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
      expect(plain.headers.get('x-content-type-options')).toBe('nosniff');
      expect(plain.headers.get('content-encoding')).toBeNull();
      const body = await plain.text();
      // fetch decodes gzip itself: the same script comes out, and the header says it was compressed.
      const gzipped = await fetch(server.url + script, { headers: { 'accept-encoding': 'gzip' } });
      expect(gzipped.headers.get('content-encoding')).toBe('gzip');
      expect(await gzipped.text()).toBe(body);
      const etag = index.headers.get('etag');
      expect(etag).toMatch(/^".+"$/);
      const again = await server.request('GET', '/', { headers: { 'if-none-match': etag! } });
      expect(again.status).toBe(304);
    });
  });

  describe('sessions', () => {
    it('signs in with a token: an HttpOnly SameSite=Strict cookie that ends with the token, and a CSRF token', async () => {
      const { response, cookie } = await signIn(server, server.token('alice'));
      expect(response.json).toMatchObject({ userId: 'alice', role: 'user' });
      expect(typeof response.json.csrfToken).toBe('string');
      const { attributes } = cookieOf(response);
      expect(cookie).toMatch(/^autocode_session=[A-Za-z0-9_-]{40,}$/);
      expect(attributes).toEqual(expect.arrayContaining(['HttpOnly', 'SameSite=Strict', 'Path=/']));
      const maxAge = Number(attributes.find((attribute) => attribute.startsWith('Max-Age='))!.slice(8));
      // The test tokens live an hour.
      expect(maxAge).toBeGreaterThan(3500);
      expect(maxAge).toBeLessThanOrEqual(3600);
      expect(Date.parse(response.json.expiresAt) - Date.now()).toBeGreaterThan(3500_000);
      // The token itself is nowhere in the cookie.
      expect(cookie).not.toContain(server.token('alice').split('.')[1]);
    });

    it('refuses a bad token', async () => {
      expectProblem(await server.request('POST', '/api/v1/session', { body: { token: 'not-a-jwt' } }), 401, 'unauthorized');
      expectProblem(await server.request('POST', '/api/v1/session', { body: {} }), 400, 'validation_failed');
    });

    it('lets the cookie read, and write only with the CSRF token', async () => {
      const { cookie, csrf } = await signIn(server, server.token('carol'));
      const list = await server.request('GET', '/api/v1/runs', { headers: { cookie } });
      expect(list.status, list.text).toBe(200);
      const body = { agent: 'lines', prompt: 'from the dashboard' };
      expectProblem(await server.request('POST', '/api/v1/runs', { headers: { cookie }, body }), 403, 'csrf_failed');
      expectProblem(await server.request('POST', '/api/v1/runs', { headers: { cookie, 'x-csrf-token': csrf.slice(0, -2) + 'xx' }, body }), 403, 'csrf_failed');
      const { csrf: otherCsrf } = await signIn(server, server.token('carol'));
      expectProblem(await server.request('POST', '/api/v1/runs', { headers: { cookie, 'x-csrf-token': otherCsrf }, body }), 403, 'csrf_failed');
      const submitted = await server.request('POST', '/api/v1/runs', { headers: { cookie, 'x-csrf-token': csrf }, body });
      expect(submitted.status, submitted.text).toBe(202);
      expect(submitted.json.userId).toBe('carol');
      const run = await waitForStatus(server, server.token('carol'), submitted.json.id, ['succeeded']);
      // Another user's session sees no such run.
      const { cookie: daveCookie } = await signIn(server, server.token('dave'));
      expectProblem(await server.request('GET', `/api/v1/runs/${run.id}`, { headers: { cookie: daveCookie } }), 404, 'run_not_found');
      const mine = await server.request('GET', `/api/v1/runs/${run.id}`, { headers: { cookie } });
      expect(mine.json.status).toBe('succeeded');
    });

    it('answers the session with its CSRF token, and signs out on the server', async () => {
      const { cookie, csrf } = await signIn(server, server.token('erin'));
      const current = await server.request('GET', '/api/v1/session', { headers: { cookie } });
      expect(current.status).toBe(200);
      expect(current.json).toMatchObject({ userId: 'erin', csrfToken: csrf });
      expectProblem(await server.request('GET', '/api/v1/session'), 401, 'unauthorized');
      expectProblem(await server.request('DELETE', '/api/v1/session', { headers: { cookie } }), 403, 'csrf_failed');
      const out = await server.request('DELETE', '/api/v1/session', { headers: { cookie, 'x-csrf-token': csrf } });
      expect(out.status).toBe(204);
      expect(cookieOf(out).attributes).toContain('Max-Age=0');
      // The same cookie, replayed after sign-out, signs nobody in.
      expectProblem(await server.request('GET', '/api/v1/runs', { headers: { cookie } }), 401, 'unauthorized');
      expectProblem(await server.request('GET', '/api/v1/session', { headers: { cookie } }), 401, 'unauthorized');
      expect((await server.request('DELETE', '/api/v1/session', { headers: { cookie } })).status).toBe(204);
    });

    it('ends when the token it was opened with expires', async () => {
      const shortToken = server.app.get(TokenService).create('frank', { admin: false, ttlSeconds: 2 });
      const { cookie, response } = await signIn(server, shortToken);
      const maxAge = Number(cookieOf(response).attributes.find((attribute) => attribute.startsWith('Max-Age='))!.slice(8));
      expect(maxAge).toBeLessThanOrEqual(2);
      expect((await server.request('GET', '/api/v1/runs', { headers: { cookie } })).status).toBe(200);
      await new Promise((resolve) => setTimeout(resolve, 2200));
      expectProblem(await server.request('GET', '/api/v1/runs', { headers: { cookie } }), 401, 'unauthorized');
    });

    it('gives an admin session the admin routes and the detailed health report, and a user session neither', async () => {
      const admin = await signIn(server, server.token('root', { admin: true }));
      expect((await server.request('GET', '/api/v1/admin/users', { headers: { cookie: admin.cookie } })).status).toBe(200);
      expect((await server.request('GET', '/health/detailed', { headers: { cookie: admin.cookie } })).status).toBe(200);
      const changed = await server.request('PUT', '/api/v1/admin/users/alice/quota', { headers: { cookie: admin.cookie, 'x-csrf-token': admin.csrf }, body: { tier: 'premium' } });
      expect(changed.status, changed.text).toBe(200);
      expect(changed.json.tier).toBe('premium');
      const user = await signIn(server, server.token('gina'));
      expectProblem(await server.request('GET', '/api/v1/admin/users', { headers: { cookie: user.cookie } }), 403, 'forbidden');
      expectProblem(await server.request('GET', '/health/detailed', { headers: { cookie: user.cookie } }), 403, 'forbidden');
    });

    it('searches the prompts of the own runs, matching LIKE wildcards literally', async () => {
      const token = server.token('hank');
      for (const prompt of ['Alpha task', 'beta task', '100% done', '100 percent']) {
        const submitted = await server.request('POST', '/api/v1/runs', { token, body: { agent: 'fast', prompt } });
        expect(submitted.status, submitted.text).toBe(202);
      }
      const search = async (q: string): Promise<string[]> => {
        const page = await server.request('GET', `/api/v1/runs?q=${encodeURIComponent(q)}`, { token });
        expect(page.status, page.text).toBe(200);
        return page.json.items.map((run: { prompt: string }) => run.prompt).sort();
      };
      expect(await search('ALPHA')).toEqual(['Alpha task']);
      expect(await search('task')).toEqual(['Alpha task', 'beta task']);
      expect(await search('100%')).toEqual(['100% done']);
      expect(await search('_')).toEqual([]);
      expect(await search('task')).not.toContain('from the dashboard');
    });
  });

  describe('one-time sign-in links', () => {
    const cliEnv = (extra: Record<string, string> = {}): Record<string, string> => environment(server.dataDir, server.database, FIXTURE_AGENTS, { PORT: '8123', ...extra });

    it('are printed by `autocode token create --login-url` and sign a browser in once', async () => {
      const printed = cli(cliEnv(), 'token', 'create', '--user', 'ivan', '--admin', '--ttl', '2h', '--login-url');
      expect(printed.status, printed.stderr).toBe(0);
      const link = printed.stdout.trim();
      expect(link).toMatch(/^http:\/\/127\.0\.0\.1:8123\/login#code=[A-Za-z0-9_-]{40,}$/);
      const code = link.split('#code=')[1]!;
      const redeemed = await server.request('POST', '/api/v1/session/login-link', { body: { code } });
      expect(redeemed.status, redeemed.text).toBe(200);
      expect(redeemed.json).toMatchObject({ userId: 'ivan', role: 'admin' });
      const expiresIn = Date.parse(redeemed.json.expiresAt) - Date.now();
      expect(expiresIn).toBeGreaterThan(7100_000);
      expect(expiresIn).toBeLessThanOrEqual(7200_000);
      const cookie = cookieOf(redeemed).pair;
      expect((await server.request('GET', '/api/v1/admin/users', { headers: { cookie } })).status).toBe(200);
      expectProblem(await server.request('POST', '/api/v1/session/login-link', { body: { code } }), 400, 'login_link_invalid');
      expectProblem(await server.request('POST', '/api/v1/session/login-link', { body: { code: 'made-up' } }), 400, 'login_link_invalid');
    });

    it('take the dashboard address from --base-url, and refuse a bad one', async () => {
      const printed = cli(cliEnv(), 'token', 'create', '--user', 'judy', '--login-url', '--base-url', 'https://autocode.example.com/');
      expect(printed.status, printed.stderr).toBe(0);
      expect(printed.stdout.trim()).toMatch(/^https:\/\/autocode\.example\.com\/login#code=[A-Za-z0-9_-]+$/);
      const bad = cli(cliEnv(), 'token', 'create', '--user', 'judy', '--login-url', '--base-url', 'javascript:alert(1)');
      expect(bad.status).toBe(2);
    });
  });
});

describe('the dashboard turned off', () => {
  let server: TestServer;

  beforeAll(async () => {
    server = await startTestServer({ env: { UI_ENABLED: 'false' } });
  });
  afterAll(async () => {
    await disposeTestServer(server);
  });

  it('serves no page, no file and no session route; the API works with tokens as before', async () => {
    expectProblem(await server.request('GET', '/'), 404, 'not_found');
    expectProblem(await server.request('GET', '/quota'), 404, 'not_found');
    expectProblem(await server.request('POST', '/api/v1/session', { body: { token: server.token('alice') } }), 404, 'not_found');
    expect((await request(server.url, 'GET', '/api/v1/runs', { token: server.token('alice') })).status).toBe(200);
  });
});
