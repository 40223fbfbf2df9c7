import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, it } from '@jest/globals';
import { expect } from './jest/expect.js';
import { createTestDatabase, environment, FIXTURE_AGENTS, request, startBuiltServer, waitForStatus, type TestDatabase } from './helpers/test-server.js';

// The server's log as a machine reads it: one JSON object per line, ISO times, request ids,
// user and run ids, and never a token, a secret or a line forged by user input.

const DIST = join(import.meta.dirname, '..', 'dist');

describe('structured logs', () => {
  let dataDir: string;
  let database: TestDatabase;
  let lines: string[];
  /** The log of an API node configured with a Redis URL (a password in it) that does not answer. */
  let redisNodeLines: string[];
  let token: string;
  let secret: string;
  let runId: string;
  let requestIdEcho: string | null;
  // Line breaks and tabs are the control characters a prompt may hold; the rest are refused at the door.
  const prompt = 'innocent\n{"level":"error","msg":"forged"}\r\t red';
  const apiKey = `sk-ant-api03-${randomBytes(24).toString('base64url')}`;
  const redisPassword = `redis-${randomBytes(12).toString('hex')}`;

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'autocode-logs-'));
    database = await createTestDatabase();
    secret = randomBytes(32).toString('base64url');
    const env = { ...environment(dataDir, database, FIXTURE_AGENTS), JWT_SECRET: secret, LOG_LEVEL: 'debug', LOG_FORMAT: 'json' };
    // A configured secret the server holds besides its JWT key.
    Object.assign(env, { ANTHROPIC_API_KEY: apiKey });
    token = spawnSync(process.execPath, [join(DIST, 'cli.js'), 'token', 'create', '--user', 'log-user'], { env, encoding: 'utf8' }).stdout.trim();
    expect(token).toMatch(/^eyJ/);
    const server = await startBuiltServer(env);
    // Stopped whatever happens: a failed expectation here must not leave the server running.
    try {
      const url = server.url;

      const submitted = await request(url, 'POST', '/api/v1/runs', {
        token,
        body: { agent: 'fast', prompt },
        headers: { 'x-request-id': 'client-req-42' },
      });
      expect(submitted.status, submitted.text).toBe(202);
      requestIdEcho = submitted.headers.get('x-request-id');
      runId = submitted.json.id;
      await waitForStatus({ request: (method, path, options) => request(url, method, path, options) }, token, runId, ['succeeded']);
      await request(url, 'GET', `/api/v1/runs/${runId}`, { token });
      // The secrets in a prompt (logged whole at debug), in a quoted string and in a request path.
      const leaky = await request(url, 'POST', '/api/v1/runs', {
        token,
        body: { agent: 'fast', prompt: `key ${secret}, "${apiKey}"` },
      });
      expect(leaky.status, leaky.text).toBe(202);
      await waitForStatus({ request: (method, path, options) => request(url, method, path, options) }, token, leaky.json.id, ['succeeded']);
      await request(url, 'GET', `/api/v1/runs/${apiKey}`, { token });
      // An SSE stream (of a finished run: the replay, then the server closes it).
      await request(url, 'GET', `/api/v1/runs/${runId}/events`, { token });
      await request(url, 'GET', '/api/v1/runs', { headers: { authorization: `Bearer ${token}x` } });
      for (let i = 0; i < 3; i++) {
        await request(url, 'GET', '/health/live');
        await request(url, 'GET', '/metrics');
      }
    } finally {
      await server.stop();
    }
    lines = server.output().split('\n').filter((line) => line.length > 0);

    // With REDIS_URL, runs wait for Redis: a node that only takes submits shows what its log keeps of the URL's password.
    const redisNode = await startBuiltServer({ ...env, ROLE: 'api', REDIS_URL: `redis://:${redisPassword}@127.0.0.1:1` });
    try {
      const submitted = await request(redisNode.url, 'POST', '/api/v1/runs', { token, body: { agent: 'fast', prompt: `redis ${redisPassword}` } });
      expect(submitted.status, submitted.text).toBe(202);
    } finally {
      await redisNode.stop();
    }
    redisNodeLines = redisNode.output().split('\n').filter((line) => line.length > 0);
  });

  afterAll(async () => {
    await database.drop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('writes one JSON object per line with an ISO-8601 time', () => {
    expect(lines.length).toBeGreaterThan(5);
    for (const line of lines) {
      const entry = JSON.parse(line);
      expect(entry.time).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
      expect(typeof entry.level).toBe('string');
    }
  });

  it('never writes the token or a configured secret, even where a prompt or a path carries it', () => {
    const all = lines.join('\n');
    expect(all).not.toContain(token);
    expect(all).not.toContain(token.split('.')[2]);
    expect(all).not.toContain(secret);
    expect(all).not.toContain(apiKey);
    const prompts = lines.map((line) => JSON.parse(line)).filter((entry) => entry.msg === 'run prompt');
    expect(prompts[1]?.prompt, all).toBe('key [redacted], "[redacted]"');
    const redisLog = redisNodeLines.join('\n');
    expect(redisLog).not.toContain(redisPassword);
    expect(redisNodeLines.map((line) => JSON.parse(line)).find((entry) => entry.msg === 'run prompt')?.prompt, redisLog).toBe('redis [redacted]');
    expect(all.toLowerCase()).not.toContain('authorization');
  });

  it('keeps user input inside one line: no forged entry, control characters escaped', () => {
    const entries = lines.map((line) => JSON.parse(line));
    expect(entries.filter((entry) => entry.msg === 'forged')).toEqual([]);
    expect(entries.filter((entry) => entry.level === 'error')).toEqual([]);
    const promptLine = entries.find((entry) => entry.msg === 'run prompt');
    expect(promptLine?.prompt).toBe(prompt);
    for (const line of lines) expect(line).not.toMatch(/[\r\u001b]/);
  });

  it('puts the request id (taken from X-Request-Id and returned), the user id and the run id on the lines of a request', () => {
    expect(requestIdEcho).toBe('client-req-42');
    const entries = lines.map((line) => JSON.parse(line));
    const submitted = entries.find((entry) => entry.msg === 'run submitted');
    expect(submitted).toMatchObject({ runId, userId: 'log-user', agent: 'fast', req: { id: 'client-req-42' } });
    const completed = entries.find((entry) => entry.msg === 'request completed' && entry.req?.id === 'client-req-42');
    expect(completed).toMatchObject({ req: { method: 'POST', url: '/api/v1/runs' }, res: { statusCode: 202 }, userId: 'log-user' });
    const read = entries.find((entry) => entry.msg === 'request completed' && entry.req?.url === `/api/v1/runs/${runId}`);
    expect(read).toMatchObject({ userId: 'log-user', runId });
    const stream = entries.find((entry) => entry.msg === 'request completed' && entry.req?.url === `/api/v1/runs/${runId}/events`);
    expect(stream).toMatchObject({ userId: 'log-user', runId, res: { statusCode: 200 }, responseTime: expect.any(Number) });
    const refused = entries.find((entry) => entry.msg === 'request completed' && entry.res?.statusCode === 401);
    expect(refused).toMatchObject({ req: { method: 'GET', url: '/api/v1/runs' } });
    expect(refused.userId).toBeUndefined();
    const generated = entries.filter((entry) => entry.msg === 'request completed' && entry.req?.id !== 'client-req-42');
    for (const entry of generated) expect(entry.req.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(entries.find((entry) => entry.msg === 'run finished')).toMatchObject({ runId, status: 'succeeded' });
  });

  it('leaves health and metrics out of request logs', () => {
    const urls = lines.map((line) => JSON.parse(line)).map((entry) => entry.req?.url).filter(Boolean);
    expect(urls.some((url: string) => url.startsWith('/health') || url === '/metrics')).toBe(false);
  });
});
