import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, it } from '@jest/globals';
import { expect } from './jest/expect.js';
import { hs256Token } from './helpers/tokens.js';
import { createTestDatabase, environment, FIXTURE_AGENTS, request, startBuiltServer, type BuiltServer, type TestDatabase } from './helpers/test-server.js';

// A node whose REDIS_URL does not answer (nothing listens on port 1): submits are still stored and
// wait queued, health says which dependency is missing, the log stays JSON lines, and a SIGTERM
// stops it at once rather than waiting for Redis. With Redis back the runs start (services suite).

const SECRET = 'redis-away-secret-'.padEnd(40, 'x');

describe('a node whose Redis is away', () => {
  let dataDir: string;
  let database: TestDatabase;
  let server: BuiltServer;
  const token = hs256Token(SECRET, { sub: 'rita' });
  const admin = hs256Token(SECRET, { sub: 'ops', role: 'admin' });

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'autocode-redis-away-'));
    database = await createTestDatabase();
    server = await startBuiltServer(environment(dataDir, database, FIXTURE_AGENTS, { JWT_SECRET: SECRET, REDIS_URL: 'redis://127.0.0.1:1', LOG_FORMAT: 'json', LOG_LEVEL: 'info' }));
  });
  afterAll(async () => {
    await server?.stop();
    await database?.drop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('stores submits, which wait queued, and says Redis is what is missing', async () => {
    const submitted = await request(server.url, 'POST', '/api/v1/runs', { token, body: { agent: 'fast', prompt: 'waits for redis' } });
    expect(submitted.status, submitted.text).toBe(202);
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    const run = await request(server.url, 'GET', `/api/v1/runs/${submitted.json.id}`, { token });
    expect(run.json.status).toBe('queued');
    expect((await request(server.url, 'GET', '/health/ready')).status).toBe(200);
    const detailed = await request(server.url, 'GET', '/health/detailed', { token: admin });
    expect(detailed.json.status).toBe('degraded');
    expect(detailed.json.components.redis).toMatchObject({ status: 'down' });
    expect(detailed.json.components.queue.detail).toMatchObject({ adapter: 'bullmq' });
  });

  it('stops within seconds of a SIGTERM, its log JSON lines throughout', async () => {
    const stoppingAt = Date.now();
    await server.stop();
    const tookMs = Date.now() - stoppingAt;
    expect(tookMs).toBeLessThan(10_000);
    const lines = server.output().split('\n').filter((line) => line.length > 0);
    expect(lines.filter((line) => !line.startsWith('{'))).toEqual([]);
    expect(lines.map((line) => JSON.parse(line).msg)).toContain('stopped');
  });
});
