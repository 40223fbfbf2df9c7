import { afterAll, beforeAll, describe, it } from '@jest/globals';
import { expect } from './jest/expect.js';
import { disposeTestServer, FIXTURE_AGENTS, fixtureProfile, startTestServer, waitFor, waitForStatus, type TestResponse, type TestServer } from './helpers/test-server.js';

// Bad input is refused with a 400 (or 415) problem+json carrying a stable code, and
// nothing refused is ever created. Real HTTP against a real server.

const SNAKE_CASE = /^[a-z][a-z0-9]*(_[a-z0-9]+)*$/;
const CORE_KEYS = ['code', 'detail', 'status', 'title', 'type'];
/** Members a framework default error body or a leaked exception would carry. */
const LEAKY_KEYS = ['stack', 'statusCode', 'message', 'trace', 'cause', 'name'];

/** Every error response seen in this file, for the shape check at the end. */
const seenErrors: { what: string; response: TestResponse }[] = [];

/** Asserts a problem+json response with the given status (and code, if given); returns its code. */
function expectProblem(response: TestResponse, status: number, code?: string, what = ''): string {
  seenErrors.push({ what, response });
  expect(response.status, `${what}: ${response.text}`).toBe(status);
  expect(response.headers.get('content-type'), what).toMatch(/^application\/problem\+json/);
  expectProblemShape(response, what);
  if (code !== undefined) expect(response.json.code, what).toBe(code);
  return response.json.code as string;
}

function expectProblemShape(response: TestResponse, what: string): void {
  const body = response.json;
  expect(typeof body, `${what}: ${response.text}`).toBe('object');
  expect(body).not.toBeNull();
  for (const key of CORE_KEYS) expect(Object.keys(body), `${what}: ${key}`).toContain(key);
  expect(typeof body.type, what).toBe('string');
  expect(typeof body.title, what).toBe('string');
  expect(typeof body.detail, what).toBe('string');
  expect(body.status, what).toBe(response.status);
  expect(body.code, what).toMatch(SNAKE_CASE);
  for (const key of LEAKY_KEYS) expect(Object.keys(body), `${what}: ${key}`).not.toContain(key);
  expect(response.text, what).not.toMatch(/stack/i);
  expect(response.text, what).not.toMatch(/ at \S*\.(ts|js):/);
  expect(response.text, what).not.toMatch(/\.(ts|js):\d+:\d+/);
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

describe('validation', () => {
  let server: TestServer;

  beforeAll(async () => {
    server = await startTestServer();
  });
  afterAll(async () => disposeTestServer(server));

  describe('POST /api/v1/runs', () => {
    let token: string;
    const accepted: string[] = [];

    beforeAll(() => {
      token = server.token('validator');
    });

    const submit = (body: unknown, headers: Record<string, string> = {}): Promise<TestResponse> =>
      server.request('POST', '/api/v1/runs', { token, body, headers });

    it('refuses an unknown agent with unknown_agent', async () => {
      expectProblem(await submit({ agent: 'nope', prompt: 'x' }), 400, 'unknown_agent', 'unknown agent');
    });

    it('refuses an empty prompt', async () => {
      expectProblem(await submit({ agent: 'lines', prompt: '' }), 400, 'validation_failed', 'empty prompt');
    });

    it('refuses a prompt of only whitespace', async () => {
      expectProblem(await submit({ agent: 'lines', prompt: ' \n\t\r\n ' }), 400, 'validation_failed', 'whitespace prompt');
    });

    // The limit is in bytes of UTF-8, what reaches the agent: 100,001 ASCII characters, or 50,001 "é".
    it.each([
      ['100,001 ASCII characters', 'p'.repeat(100_001)],
      ['50,001 two-byte characters', 'é'.repeat(50_001)],
      ['100,000 two-byte characters', 'é'.repeat(100_000)],
    ])('refuses a prompt of %s, naming the limit', async (what, prompt) => {
      const response = await submit({ agent: 'lines', prompt });
      expectProblem(response, 400, 'validation_failed', what);
      expect(response.json.detail, what).toContain('100000 bytes');
    });

    it('accepts a prompt of exactly 100,000 characters', async () => {
      const response = await submit({ agent: 'sleeper', prompt: 'p'.repeat(100_000) });
      expect(response.status, response.text.slice(0, 500)).toBe(202);
      expect(response.json.prompt).toHaveLength(100_000);
      accepted.push(response.json.id);
      const cancel = await server.request('POST', `/api/v1/runs/${response.json.id}/cancel`, { token });
      expect(cancel.status, cancel.text.slice(0, 500)).toBe(202);
      await waitForStatus(server, token, response.json.id, ['cancelled']);
    });

    it('refuses an unknown field', async () => {
      expectProblem(await submit({ prompt: 'x', bogus: 1 }), 400, 'validation_failed', 'unknown field');
    });

    it('refuses a body without a prompt', async () => {
      expectProblem(await submit({ agent: 'lines' }), 400, 'validation_failed', 'missing prompt');
      expectProblem(await submit({}), 400, 'validation_failed', 'empty body object');
    });

    it.each([
      ['0', 0],
      ['-5', -5],
      ['1.5', 1.5],
      ['the string "60"', '60'],
    ])('refuses timeoutSeconds %s', async (what, timeoutSeconds) => {
      expectProblem(await submit({ agent: 'lines', prompt: 'x', timeoutSeconds }), 400, 'validation_failed', `timeoutSeconds ${what}`);
    });

    it('refuses metadata larger than 8 KiB', async () => {
      const metadata = { blob: 'm'.repeat(8 * 1024) };
      expectProblem(await submit({ agent: 'lines', prompt: 'x', metadata }), 400, 'validation_failed', 'big metadata');
      // Also when the size comes from multi-byte characters: 3000 × 3 bytes.
      expectProblem(await submit({ agent: 'lines', prompt: 'x', metadata: { s: '€'.repeat(3000) } }), 400, 'validation_failed', 'multibyte metadata');
    });

    it.each([
      ['an array', [1, 2]],
      ['a string', 'x'],
      ['a number', 5],
    ])('refuses metadata that is %s', async (what, metadata) => {
      expectProblem(await submit({ agent: 'lines', prompt: 'x', metadata }), 400, 'validation_failed', `metadata ${what}`);
    });

    it('refuses a body that is not JSON with a problem+json 400', async () => {
      const response = await submit('{bad', { 'content-type': 'application/json' });
      const code = expectProblem(response, 400, undefined, 'bad JSON');
      // The server answers validation_failed (Fastify's FST_ERR_CTP_INVALID_JSON_BODY mapped by its 400 status).
      expect(code).toBe('validation_failed');
    });

    it('refuses a JSON body that is not an object', async () => {
      expectProblem(await submit('[1,2]', { 'content-type': 'application/json' }), 400, undefined, 'array body');
      expectProblem(await submit('"x"', { 'content-type': 'application/json' }), 400, undefined, 'string body');
    });

    // JSON in: a text body must not reach validation as a string.
    it('refuses a text/plain body with 415', async () => {
      const response = await submit('{"prompt":"x"}', { 'content-type': 'text/plain' });
      const code = expectProblem(response, 415, undefined, 'text/plain');
      expect(code).toBe('unsupported_media_type');
    });

    it('refuses a timeout above the tier maximum with timeout_exceeds_quota', async () => {
      const response = await submit({ agent: 'lines', prompt: 'x', timeoutSeconds: 7200 });
      expectProblem(response, 400, 'timeout_exceeds_quota', 'timeout above tier');
    });

    it('accepts a timeout at the tier maximum (control)', async () => {
      const response = await submit({ agent: 'lines', prompt: 'x', timeoutSeconds: 3600, metadata: { ci: 'build-42' } });
      expect(response.status, response.text).toBe(202);
      expect(response.json).toMatchObject({ timeoutSeconds: 3600, metadata: { ci: 'build-42' } });
      accepted.push(response.json.id);
      await waitForStatus(server, token, response.json.id, ['succeeded']);
    });

    // 100,000 bytes of one-, two-, three- and four-byte characters, with line breaks and tabs:
    // the largest prompt reaches the agent whole in its argv, its environment and its stdin.
    it('gives the largest prompt, in multi-byte characters, to the agent in argv, AUTOCODE_PROMPT and stdin', async () => {
      const prompt = 'é€😀\n'.repeat(9_999) + 'x\r\n\tyzé' + 'zz';
      expect(Buffer.byteLength(prompt)).toBe(100_000);
      const response = await submit({ agent: 'echo', prompt });
      expect(response.status, response.text.slice(0, 500)).toBe(202);
      accepted.push(response.json.id);
      const run = await waitForStatus(server, token, response.json.id, ['succeeded', 'failed']);
      expect(run.status, JSON.stringify(run.error)).toBe('succeeded');
      const events = await server.request('GET', `/api/v1/runs/${response.json.id}/events?limit=1000`, { token });
      // The report is one line, cut into several stdout events by the server's line limit.
      const report = JSON.parse(events.json.items.filter((event: { type: string }) => event.type === 'stdout').map((event: { data: { line: string } }) => event.data.line).join(''));
      expect(report.argv[0] === `--prompt=${prompt}`, 'argv').toBe(true);
      expect(report.env.AUTOCODE_PROMPT === prompt, 'AUTOCODE_PROMPT').toBe(true);
      expect(report.stdin === prompt, 'stdin').toBe(true);
    });

    it('created only the accepted runs', async () => {
      expect(accepted).toHaveLength(3);
      const list = await server.request('GET', '/api/v1/runs?limit=100', { token });
      expect(list.status).toBe(200);
      expect(list.json.nextCursor).toBeNull();
      expect(list.json.items.map((run: { id: string }) => run.id).sort()).toEqual([...accepted].sort());
    });
  });

  describe('deeply nested JSON', () => {
    let token: string;

    beforeAll(() => {
      token = server.token('nester');
    });

    const nested = (levels: number, leaf: string): string => '{"a":'.repeat(levels) + leaf + '}'.repeat(levels);

    it('refuses 10,000 levels in metadata and 100,000 nested arrays with validation_failed', async () => {
      const inMetadata = `{"agent":"lines","prompt":"x","metadata":${nested(10_000, '1')}}`;
      const arrays = '['.repeat(100_000) + ']'.repeat(100_000);
      for (const [what, body] of [['metadata', inMetadata], ['arrays', arrays]]) {
        const response = await server.request('POST', '/api/v1/runs', { token, body, headers: { 'content-type': 'application/json' } });
        expectProblem(response, 400, 'validation_failed', `deep ${what}`);
        expect(response.json.detail, what).toContain('32 levels');
      }
    });

    it('counts brackets inside strings as text, not as nesting', async () => {
      const body = JSON.stringify({ agent: 'lines', prompt: '['.repeat(1000) + '\\"{'.repeat(100) });
      const response = await server.request('POST', '/api/v1/runs', { token, body, headers: { 'content-type': 'application/json' } });
      expect(response.status, response.text).toBe(202);
      await waitForStatus(server, token, response.json.id, ['succeeded']);
    });

    it('accepts a body nested 32 levels deep and refuses 33', async () => {
      // The body is one level, metadata a second: 30 more inside it make 32.
      const at = (levels: number): string => `{"agent":"lines","prompt":"x","metadata":${nested(levels - 1, '1')}}`;
      const deepest = await server.request('POST', '/api/v1/runs', { token, body: at(32), headers: { 'content-type': 'application/json' } });
      expect(deepest.status, deepest.text).toBe(202);
      await waitForStatus(server, token, deepest.json.id, ['succeeded']);
      expectProblem(await server.request('POST', '/api/v1/runs', { token, body: at(33), headers: { 'content-type': 'application/json' } }), 400, 'validation_failed', '33 levels');
    });
  });

  describe('non-JSON media types', () => {
    let token: string;

    beforeAll(() => {
      token = server.token('form-user');
    });
    afterAll(async () => {
      // If the server wrongly accepted a run, let it finish so nothing is left running.
      const list = await server.request('GET', '/api/v1/runs?limit=100', { token });
      for (const run of list.json?.items ?? []) await waitForStatus(server, token, run.id, ['succeeded', 'failed', 'cancelled']).catch(() => undefined);
    });

    // JSON in: a form-encoded body must not be parsed into a submit.
    it('refuses an application/x-www-form-urlencoded body with 415 and creates nothing', async () => {
      const response = await server.request('POST', '/api/v1/runs', {
        token,
        body: 'agent=lines&prompt=x',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
      });
      const list = await server.request('GET', '/api/v1/runs', { token });
      expectProblem(response, 415, 'unsupported_media_type', 'form body');
      expect(list.json).toEqual({ items: [], nextCursor: null });
    });
  });

  describe('run ids and list queries', () => {
    let token: string;

    beforeAll(() => {
      token = server.token('querier');
    });

    it.each([
      ['GET', '/api/v1/runs/not-a-uuid'],
      ['POST', '/api/v1/runs/not-a-uuid/cancel'],
      ['GET', '/api/v1/runs/not-a-uuid/events'],
      ['GET', '/api/v1/runs/not-a-uuid/logs'],
    ])('%s %s -> 400', async (method, path) => {
      const code = expectProblem(await server.request(method, path, { token }), 400, undefined, `${method} ${path}`);
      expect(code).toBe('validation_failed');
    });

    it('GET /api/v1/runs/not-a-uuid/events as SSE -> 400', async () => {
      const response = await server.request('GET', '/api/v1/runs/not-a-uuid/events', { token, headers: { accept: 'text/event-stream' } });
      expectProblem(response, 400, 'validation_failed', 'SSE bad id');
    });

    it.each([
      ['limit=1000', 'validation_failed'],
      ['limit=101', 'validation_failed'],
      ['limit=0', 'validation_failed'],
      ['limit=-1', 'validation_failed'],
      ['limit=abc', 'validation_failed'],
      ['limit=1.5', 'validation_failed'],
      ['status=bogus', 'validation_failed'],
      ['agent=..%2F..', 'validation_failed'],
      ['bogus=1', 'validation_failed'],
      ['cursor=garbage', 'validation_failed'],
      [`cursor=${Buffer.from('{"a":1}').toString('base64url')}`, 'validation_failed'],
    ])('GET /api/v1/runs?%s -> 400 %s', async (query, code) => {
      expectProblem(await server.request('GET', `/api/v1/runs?${query}`, { token }), 400, code, `?${query}`);
    });

    it('accepts the bounds of limit (control)', async () => {
      for (const limit of [1, 100]) {
        const response = await server.request('GET', `/api/v1/runs?limit=${limit}`, { token });
        expect(response.status, response.text).toBe(200);
        expect(response.json).toEqual({ items: [], nextCursor: null });
      }
    });
  });

  describe('pagination and filters', () => {
    let token: string;
    const submitted: string[] = [];
    let failedId: string;

    beforeAll(async () => {
      token = server.token('pager');
      for (let i = 0; i < 5; i++) {
        const response = await server.request('POST', '/api/v1/runs', { token, body: { agent: 'lines', prompt: `page ${i}` } });
        expect(response.status, response.text).toBe(202);
        submitted.push(response.json.id);
        await sleep(5); // distinct createdAt milliseconds, so "newest first" is the reverse submission order
      }
    });

    it('pages through every run exactly once, newest first', async () => {
      const seen: { id: string; createdAt: string }[] = [];
      let cursor: string | null = null;
      let pages = 0;
      do {
        const query: string = cursor === null ? 'limit=2' : `limit=2&cursor=${encodeURIComponent(cursor)}`;
        const page = await server.request('GET', `/api/v1/runs?${query}`, { token });
        expect(page.status, page.text).toBe(200);
        pages++;
        expect(page.json.items.length).toBeLessThanOrEqual(2);
        if (pages < 3) {
          expect(page.json.items).toHaveLength(2);
          expect(typeof page.json.nextCursor).toBe('string');
        }
        seen.push(...page.json.items.map((run: { id: string; createdAt: string }) => ({ id: run.id, createdAt: run.createdAt })));
        cursor = page.json.nextCursor;
        expect(pages).toBeLessThan(10);
      } while (cursor !== null);
      expect(pages).toBe(3);
      const ids = seen.map((run) => run.id);
      expect(new Set(ids).size).toBe(5);
      expect([...ids].sort()).toEqual([...submitted].sort());
      const created = seen.map((run) => Date.parse(run.createdAt));
      expect(created).toEqual([...created].sort((a, b) => b - a));
      expect(ids).toEqual([...submitted].reverse());
    });

    it('filters by status and agent', async () => {
      for (const id of submitted) await waitForStatus(server, token, id, ['succeeded']);
      const failed = await server.request('POST', '/api/v1/runs', { token, body: { agent: 'fail', prompt: 'fail' } });
      expect(failed.status).toBe(202);
      failedId = failed.json.id;
      await waitForStatus(server, token, failedId, ['failed']);

      const ids = (response: TestResponse): string[] => response.json.items.map((run: { id: string }) => run.id).sort();
      const succeeded = await server.request('GET', '/api/v1/runs?status=succeeded&limit=100', { token });
      expect(succeeded.status).toBe(200);
      expect(succeeded.json.items.every((run: { status: string }) => run.status === 'succeeded')).toBe(true);
      expect(ids(succeeded)).toEqual([...submitted].sort());

      const lines = await server.request('GET', '/api/v1/runs?agent=lines&limit=100', { token });
      expect(lines.json.items.every((run: { agent: string }) => run.agent === 'lines')).toBe(true);
      expect(ids(lines)).toEqual([...submitted].sort());

      const failedOnly = await server.request('GET', '/api/v1/runs?status=failed', { token });
      expect(ids(failedOnly)).toEqual([failedId]);
      const failAgent = await server.request('GET', '/api/v1/runs?agent=fail&status=failed', { token });
      expect(ids(failAgent)).toEqual([failedId]);
      const none = await server.request('GET', '/api/v1/runs?agent=lines&status=failed', { token });
      expect(none.json).toEqual({ items: [], nextCursor: null });

      // Filters hold across pages too.
      const firstPage = await server.request('GET', '/api/v1/runs?status=succeeded&limit=3', { token });
      expect(firstPage.json.items).toHaveLength(3);
      const secondPage = await server.request('GET', `/api/v1/runs?status=succeeded&limit=3&cursor=${encodeURIComponent(firstPage.json.nextCursor)}`, { token });
      expect(secondPage.json.items).toHaveLength(2);
      expect(secondPage.json.nextCursor).toBeNull();
      expect([...ids(firstPage), ...ids(secondPage)].sort()).toEqual([...submitted].sort());
    });

    it('leaves nothing running', async () => {
      await waitFor(async () => {
        const active = await server.request('GET', '/api/v1/runs?status=running', { token });
        return active.json.items.length === 0;
      });
    });
  });

  // A profile can still ask for more than the kernel passes: 80 copies of a 100,000-byte prompt are
  // 8 MB of argv, over Linux's limit whatever the stack size. The run fails with a reason, not internal_error.
  describe('a command whose argv the system cannot take', () => {
    let repeating: TestServer;

    beforeAll(async () => {
      repeating = await startTestServer({ agents: { lines: FIXTURE_AGENTS.lines!, repeat: fixtureProfile('echo-input.mjs', Array<string>(80).fill('{prompt}')) } });
    });
    afterAll(async () => disposeTestServer(repeating));

    it('fails the run with agent_not_started naming E2BIG', async () => {
      const token = repeating.token('repeater');
      const response = await repeating.request('POST', '/api/v1/runs', { token, body: { agent: 'repeat', prompt: 'é'.repeat(50_000) } });
      expect(response.status, response.text.slice(0, 500)).toBe(202);
      const run = await waitForStatus(repeating, token, response.json.id, ['succeeded', 'failed']);
      expect(run.status).toBe('failed');
      expect(run.error.code, run.error.message).toBe('agent_not_started');
      expect(run.error.message).toContain('E2BIG');
    });
  });

  it('answered every error with exactly the problem members and no stack trace', () => {
    expect(seenErrors.length).toBeGreaterThan(30);
    // (Only error answers: a case marked as a server defect may have been answered with a success.)
    for (const { what, response } of seenErrors.filter((seen) => seen.response.status >= 400)) {
      expect(response.headers.get('content-type'), what).toMatch(/^application\/problem\+json/);
      expectProblemShape(response, what);
      const extensions = Object.keys(response.json).filter((key) => !CORE_KEYS.includes(key));
      // Extensions are data for the client: the validation messages, the agent names, the tier limit.
      for (const key of extensions) expect(['errors', 'agents', 'limit'], `${what}: extension ${key}`).toContain(key);
    }
  });
});
