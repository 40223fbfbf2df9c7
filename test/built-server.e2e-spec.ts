import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, it } from '@jest/globals';
import { expect } from './jest/expect.js';
import { cli, createTestDatabase, environment, FIXTURE_AGENTS, request, startBuiltServer, type BuiltServer, type TestDatabase } from './helpers/test-server.js';

// dist/main.js is a bundle of tsc's output (scripts/build.mjs). The in-process tests run src/, so
// these check through the built server what bundling could change: the request validation (the
// class-validator and class-transformer instances the DTOs' decorators wrote their metadata to)
// and the inherited DTO metadata.

describe('the built server', () => {
  let dataDir: string;
  let database: TestDatabase;
  let server: BuiltServer;
  let url: string;
  let token: string;

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'autocode-built-'));
    database = await createTestDatabase();
    const env = environment(dataDir, database, FIXTURE_AGENTS);
    expect(cli(env, 'db', 'migrate').status).toBe(0);
    token = cli(env, 'token', 'create', '--user', 'built-user', '--admin').stdout.trim();
    expect(token).toMatch(/^eyJ/);
    server = await startBuiltServer({ ...env, LOG_LEVEL: 'info' });
    url = server.url;
  });

  afterAll(async () => {
    await server?.stop();
    await database?.drop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('validates and transforms request bodies and queries', async () => {
    const submitted = await request(url, 'POST', '/api/v1/runs', { token, body: { prompt: 'hello' } });
    expect(submitted.status, submitted.text).toBe(202);

    const unknown = await request(url, 'POST', '/api/v1/runs', { token, body: { prompt: 'hello', bogus: 1 } });
    expect(unknown.status).toBe(400);
    expect(unknown.json).toMatchObject({ code: 'validation_failed', errors: ['property bogus should not exist'] });

    // `limit` arrives as a string; @Type(() => Number) makes it the number @IsInt checks.
    const page = await request(url, 'GET', '/api/v1/runs?limit=1', { token });
    expect(page.status, page.text).toBe(200);
    expect(page.json.items).toHaveLength(1);
    expect((await request(url, 'GET', '/api/v1/runs?limit=abc', { token })).json).toMatchObject({ code: 'validation_failed' });
  });

  it('validates with the metadata a DTO inherits', async () => {
    // AdminListRunsQuery extends ListRunsQuery: its `limit` rules are the parent's.
    expect((await request(url, 'GET', '/api/v1/admin/runs?limit=1', { token })).status).toBe(200);
    expect((await request(url, 'GET', '/api/v1/admin/runs?limit=0', { token })).json).toMatchObject({ code: 'validation_failed' });
  });
});
