import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { pathToFileURL } from 'node:url';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, it } from '@jest/globals';
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { expect } from './jest/expect.js';
import { SessionsService } from '../src/auth/sessions.service.js';
import { DatabaseService } from '../src/database/database.service.js';
import { startForgeStub, type ForgeStub } from './helpers/forge-stub.js';
import { readSse } from './helpers/sse.js';
import { disposeTestServer, FIXTURE_AGENTS, startTestServer, waitFor, waitForStatus, type TestServer } from './helpers/test-server.js';

// The OpenAPI document is a contract: every operation is called on a real server, for its success
// and for the error codes a client can provoke, and each answer's status, content type, headers and
// body are checked against the document with a strict JSON Schema 2020-12 validator. Any answer the
// document does not describe fails, and so does an operation never called.
// The document is the committed openapi.json, which openapi.e2e-spec.ts keeps equal to what the
// built server serves (the servers here run the TypeScript sources, without the build's swagger
// plugin, so they serve a poorer document of their own).

// ajv-formats is CommonJS: its function is the default export's default under NodeNext.
type AddFormats = (ajv: Ajv2020) => Ajv2020;
const addFormats: AddFormats = (addFormatsModule as unknown as { default?: AddFormats }).default ?? (addFormatsModule as unknown as AddFormats);

// The document is JSON read back: the test walks arbitrary members.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = Record<string, any>;

const METHODS = ['get', 'put', 'post', 'delete', 'patch'];
const JSON_MEDIA = /^application\/(problem\+)?json$/;

interface Answer {
  status: number;
  headers: Headers;
  text: string;
}

/** Validates answers against the document and records which operations (`get /api/v1/runs/{id}`) were called. */
class Contract {
  readonly called = new Set<string>();
  private readonly ajv: Ajv2020;
  private readonly compiled = new Map<string, ValidateFunction>();

  constructor(private readonly document: Json) {
    this.ajv = new Ajv2020({ strict: true, allErrors: true, discriminator: true });
    addFormats(this.ajv);
    // One schema holding the components, so `#/components/...` references resolve in it; ajv
    // derives a discriminator's mapping from the `enum` of each branch and takes no `mapping`.
    const components = structuredClone(document.components) as Json;
    for (const schema of Object.values(components.schemas as Json)) delete (schema as Json).discriminator?.mapping;
    this.ajv.addKeyword({ keyword: 'components' });
    this.ajv.addSchema({ $id: 'openapi', components });
  }

  get operations(): string[] {
    return Object.entries(this.document.paths as Json).flatMap(([path, item]) => METHODS.filter((method) => (item as Json)[method]).map((method) => `${method} ${path}`));
  }

  operation(key: string): Json {
    const [method, path] = key.split(' ');
    const operation = this.document.paths[path!]?.[method!];
    if (!operation) throw new Error(`the document has no operation ${key}`);
    return operation;
  }

  /** The validator of a schema of the document (a response body, a header, an SSE frame's data). */
  validator(schema: Json): ValidateFunction {
    const key = JSON.stringify(schema);
    let validate = this.compiled.get(key);
    if (!validate) {
      validate = this.ajv.compile(rebase(schema));
      this.compiled.set(key, validate);
    }
    return validate;
  }

  /** Checks one answer of operation `key` against the document; returns the documented response. */
  check(key: string, answer: Answer, where: string): Json {
    this.called.add(key);
    const operation = this.operation(key);
    const status = String(answer.status);
    const response = operation.responses[status] ?? operation.responses[`${status[0]}XX`] ?? operation.responses.default;
    expect(response, `${where}: status ${status} is not documented for ${key}: ${answer.text.slice(0, 300)}`).toBeDefined();
    for (const [name, header] of Object.entries((response.headers ?? {}) as Json)) {
      const value = answer.headers.get(name);
      const resolved = header.$ref ? this.document.components.headers[header.$ref.split('/').pop()] : header;
      if (resolved.required) expect(value, `${where}: no ${name}`).toBeTruthy();
      if (value === null) continue;
      const schema = resolved.schema as Json;
      const typed = schema.type === 'integer' && /^\d+$/.test(value) ? Number(value) : value;
      const validate = this.validator(schema);
      expect(validate(typed), `${where}: header ${name}: ${value} ${JSON.stringify(validate.errors)}`).toBe(true);
    }
    const content = response.content as Json | undefined;
    if (!content) {
      expect(answer.text, `${where}: ${status} documents no body`).toBe('');
      return response;
    }
    const mediaType = (answer.headers.get('content-type') ?? '').split(';')[0]!.trim();
    expect(Object.keys(content), `${where}: content type ${mediaType} not documented for ${key} ${status}`).toContain(mediaType);
    const schema = content[mediaType].schema as Json;
    const body = JSON_MEDIA.test(mediaType) ? JSON.parse(answer.text) : answer.text;
    const validate = this.validator(schema);
    expect(validate(body), `${where}: ${key} ${status} ${mediaType} body does not match: ${JSON.stringify(validate.errors, null, 1)}\n${answer.text.slice(0, 500)}`).toBe(true);
    return response;
  }
}

/** A schema of the document, its `#/components/...` references pointing into the `openapi` schema. */
function rebase(schema: unknown): Json {
  if (Array.isArray(schema)) return schema.map(rebase) as unknown as Json;
  if (schema === null || typeof schema !== 'object') return schema as Json;
  return Object.fromEntries(
    Object.entries(schema).map(([key, value]) => [key, key === '$ref' && typeof value === 'string' ? `openapi${value}` : key === 'discriminator' ? { propertyName: value.propertyName } : rebase(value)]),
  );
}

describe('the OpenAPI document as a contract', () => {
  let server: TestServer;
  let limited: TestServer;
  let receiver: Server;
  let receiverUrl: string;
  let contract: Contract;
  let alice: string;
  let admin: string;
  let repos: string;
  let github: ForgeStub;

  /** Calls operation `key` with `path` filled in, and checks the answer against the document. */
  async function call(
    key: string,
    path: string,
    options: { token?: string; body?: unknown; headers?: Record<string, string>; on?: TestServer; expectStatus?: number | number[]; code?: string } = {},
  ): Promise<{ status: number; headers: Headers; text: string; json: Json }> {
    const target = options.on ?? server;
    const [method] = key.split(' ');
    const answer = await target.request(method!.toUpperCase(), path, { token: options.token, body: options.body, headers: options.headers });
    const where = `${method!.toUpperCase()} ${path}`;
    contract.check(key, answer, where);
    if (options.expectStatus !== undefined) expect([options.expectStatus].flat(), `${where}: ${answer.text.slice(0, 300)}`).toContain(answer.status);
    if (options.code !== undefined) expect(answer.json?.code, `${where}: ${answer.text.slice(0, 300)}`).toBe(options.code);
    return { ...answer, json: answer.json as Json };
  }

  beforeAll(async () => {
    receiver = createServer((request, response) => {
      request.resume();
      request.on('end', () => response.writeHead(204).end());
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
    // A bare repository for workspaces to be cloned from and pushed to, and a stand-in of GitHub's API.
    repos = mkdtempSync(join(tmpdir(), 'autocode-contract-repos-'));
    const env = { PATH: process.env.PATH, GIT_CONFIG_NOSYSTEM: '1', GIT_CONFIG_GLOBAL: '/dev/null', GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@example.com', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@example.com' };
    execFileSync('git', ['init', '--quiet', '--initial-branch=main', join(repos, 'work')], { env });
    execFileSync('git', ['commit', '--quiet', '--allow-empty', '-m', 'initial'], { cwd: join(repos, 'work'), env });
    execFileSync('git', ['clone', '--quiet', '--bare', join(repos, 'work'), join(repos, 'origin.git')], { env });
    github = await startForgeStub('github');
    // `planner`, a seed agent_type, sleeps here, so a seed task stays running long enough to conflict.
    server = await startTestServer({
      agents: { ...FIXTURE_AGENTS, planner: FIXTURE_AGENTS.sleeper!, resumable: { ...FIXTURE_AGENTS.fast!, resumeCommand: ['/bin/echo', 'again {prompt}'] } },
      env: { WEBHOOK_ALLOW_PRIVATE_NETWORKS: 'true', FORGE_ALLOW_PRIVATE_NETWORKS: 'true', WORKSPACE_REPO_SCHEMES: 'file,https', WORKSPACE_FILE_ROOTS: repos },
    });
    limited = await startTestServer({ agents: FIXTURE_AGENTS, env: { RATE_LIMIT_PER_MINUTE: '2', QUOTA_OVERFLOW: 'reject' } });
    contract = new Contract(JSON.parse(readFileSync(join(import.meta.dirname, '..', 'openapi.json'), 'utf8')) as Json);
    alice = server.token('alice');
    admin = server.token('root', { admin: true });
  });

  afterAll(async () => {
    if (server) await disposeTestServer(server);
    if (limited) await disposeTestServer(limited);
    receiver?.closeAllConnections();
    await new Promise((resolve) => receiver?.close(resolve));
    await github?.close();
    if (repos) rmSync(repos, { recursive: true, force: true });
  });

  it('runs, their events, logs and diffs', async () => {
    const submitted = await call('post /api/v1/runs', '/api/v1/runs', { token: alice, body: { agent: 'fast', prompt: 'contract', metadata: { ci: '1' } }, expectStatus: 202 });
    const runId = submitted.json.id as string;
    const finished = await waitForStatus(server, alice, runId, ['succeeded', 'failed']);
    expect(finished.status).toBe('succeeded');
    await call('get /api/v1/runs/{id}', `/api/v1/runs/${runId}`, { token: alice, expectStatus: 200 });
    await call('get /api/v1/runs', '/api/v1/runs?limit=5&status=succeeded', { token: alice, expectStatus: 200 });
    await call('get /api/v1/runs/{id}/events', `/api/v1/runs/${runId}/events`, { token: alice, expectStatus: 200 });
    await call('get /api/v1/runs/{id}/logs', `/api/v1/runs/${runId}/logs`, { token: alice, expectStatus: 200 });
    await call('get /api/v1/runs/{id}/diff', `/api/v1/runs/${runId}/diff`, { token: alice, expectStatus: 404, code: 'diff_not_found' });
    await call('post /api/v1/runs/{id}/cancel', `/api/v1/runs/${runId}/cancel`, { token: alice, expectStatus: 409, code: 'run_finished' });

    // Messages: a follow-up of a profile with resumeCommand, none for one without, none to another user's run.
    await call('post /api/v1/runs/{id}/messages', `/api/v1/runs/${runId}/messages`, { token: alice, body: { prompt: 'again' }, expectStatus: 409, code: 'follow_up_unsupported' });
    await call('post /api/v1/runs/{id}/messages', `/api/v1/runs/${runId}/messages`, { token: server.token('mallory'), body: { prompt: 'again' }, expectStatus: 404, code: 'run_not_found' });
    await call('post /api/v1/runs/{id}/messages', `/api/v1/runs/${runId}/messages`, { token: alice, body: { prompt: ' ' }, expectStatus: 400, code: 'validation_failed' });
    const root = (await call('post /api/v1/runs', '/api/v1/runs', { token: alice, body: { agent: 'resumable', prompt: 'root' }, expectStatus: 202 })).json.id as string;
    await waitForStatus(server, alice, root, ['succeeded', 'failed']);
    const followUp = await call('post /api/v1/runs/{id}/messages', `/api/v1/runs/${root}/messages`, { token: alice, body: { prompt: 'again' }, expectStatus: 202 });
    expect(followUp.json.parentRunId).toBe(root);
    await waitForStatus(server, alice, followUp.json.id as string, ['succeeded', 'failed']);
    const thread = await call('get /api/v1/runs', `/api/v1/runs?thread=${root}`, { token: alice, expectStatus: 200 });
    expect(thread.json.items.map((run: Json) => run.id)).toEqual([followUp.json.id, root]);

    // The stream: its content type is documented, and each frame's data is a RunEvent.
    const stream = await readSse(`${server.url}/api/v1/runs/${runId}/events`, { token: alice });
    const sse = contract.operation('get /api/v1/runs/{id}/events').responses['200'].content;
    expect(Object.keys(sse)).toContain((stream.contentType ?? '').split(';')[0]);
    expect(stream.events.length).toBeGreaterThan(2);
    const event = contract.validator({ $ref: '#/components/schemas/RunEvent' });
    for (const frame of stream.events) {
      const data = JSON.parse(frame.data);
      expect(event(data), `SSE frame ${frame.data}: ${JSON.stringify(event.errors)}`).toBe(true);
      expect([frame.id, frame.event]).toEqual([String(data.seq), data.type]);
    }

    // A failed run carries an `error` object, a running one null times; cancel answers 202.
    const failed = await call('post /api/v1/runs', '/api/v1/runs', { token: alice, body: { agent: 'fail', prompt: 'contract' }, expectStatus: 202 });
    await waitForStatus(server, alice, failed.json.id, ['failed']);
    await call('get /api/v1/runs/{id}', `/api/v1/runs/${failed.json.id}`, { token: alice, expectStatus: 200 });
    const sleeping = await call('post /api/v1/runs', '/api/v1/runs', { token: alice, body: { agent: 'sleeper', prompt: 'contract' }, expectStatus: 202 });
    await call('post /api/v1/runs/{id}/cancel', `/api/v1/runs/${sleeping.json.id}/cancel`, { token: alice, expectStatus: 202 });
    await waitForStatus(server, alice, sleeping.json.id, ['cancelled']);
    await call('get /api/v1/runs/{id}/events', `/api/v1/runs/${sleeping.json.id}/events?after=0&limit=50`, { token: alice, expectStatus: 200 });

    // Errors.
    await call('post /api/v1/runs', '/api/v1/runs', { token: alice, body: { agent: 'fast', prompt: '' }, expectStatus: 400, code: 'validation_failed' });
    await call('post /api/v1/runs', '/api/v1/runs', { token: alice, body: { agent: 'nope', prompt: 'x' }, expectStatus: 400, code: 'unknown_agent' });
    await call('post /api/v1/runs', '/api/v1/runs', { token: alice, body: { agent: 'fast', prompt: 'x', timeoutSeconds: 999_999 }, expectStatus: 400 });
    await call('post /api/v1/runs', '/api/v1/runs', { token: alice, body: { agent: 'fast', prompt: 'x', workspace: 'absent' }, expectStatus: 404, code: 'workspace_not_found' });
    await call('post /api/v1/runs', '/api/v1/runs', { token: alice, body: 'prompt=x', headers: { 'content-type': 'text/plain' }, expectStatus: 415, code: 'unsupported_media_type' });
    await call('post /api/v1/runs', '/api/v1/runs', { body: { prompt: 'x' }, expectStatus: 401, code: 'unauthorized' });
    const key = { 'idempotency-key': 'contract-1' };
    await call('post /api/v1/runs', '/api/v1/runs', { token: alice, body: { agent: 'fast', prompt: 'once' }, headers: key, expectStatus: 202 });
    const replay = await call('post /api/v1/runs', '/api/v1/runs', { token: alice, body: { agent: 'fast', prompt: 'once' }, headers: key, expectStatus: 202 });
    expect(replay.headers.get('idempotent-replayed')).toBe('true');
    await call('post /api/v1/runs', '/api/v1/runs', { token: alice, body: { agent: 'fast', prompt: 'twice' }, headers: key, expectStatus: 422, code: 'idempotency_key_reused' });
    const missing = '019ab3f2-6c1e-7d42-9a51-2f0e8c7b1d34';
    await call('get /api/v1/runs/{id}', `/api/v1/runs/${missing}`, { token: alice, expectStatus: 404, code: 'run_not_found' });
    await call('get /api/v1/runs/{id}', '/api/v1/runs/not-a-uuid', { token: alice, expectStatus: 400, code: 'validation_failed' });
    await call('get /api/v1/runs', '/api/v1/runs?limit=1000', { token: alice, expectStatus: 400, code: 'validation_failed' });
    await call('get /api/v1/runs/{id}/events', `/api/v1/runs/${missing}/events`, { token: alice, expectStatus: 404 });
    await call('get /api/v1/runs/{id}/logs', `/api/v1/runs/${missing}/logs`, { token: alice, expectStatus: 404 });
    await call('post /api/v1/runs/{id}/cancel', `/api/v1/runs/${missing}/cancel`, { token: alice, expectStatus: 404 });

    // Refused before the route: a body over 1 MiB, a path parameter too long, headers over 16 KiB.
    await call('post /api/v1/runs', '/api/v1/runs', { token: alice, body: { agent: 'fast', prompt: 'x'.repeat(1_100_000) }, expectStatus: 413, code: 'payload_too_large' });
    await call('get /api/v1/runs/{id}', `/api/v1/runs/${'a'.repeat(3000)}`, { token: alice, expectStatus: 414, code: 'uri_too_long' });
    await call('get /api/v1/quota', '/api/v1/quota', { token: alice, headers: { 'x-padding': 'p'.repeat(17_000) }, expectStatus: 431, code: 'headers_too_large' });

    // No room to run or to wait: 429 queue_full.
    await call('put /api/v1/admin/users/{id}/quota', '/api/v1/admin/users/full/quota', { token: admin, body: { concurrent: 0, queued: 0 }, expectStatus: 200 });
    await call('post /api/v1/runs', '/api/v1/runs', { token: server.token('full'), body: { agent: 'fast', prompt: 'x' }, expectStatus: 429, code: 'queue_full' });

    // A daily limit of 0 refuses with 429 and Retry-After.
    await call('put /api/v1/admin/users/{id}/quota', '/api/v1/admin/users/capped/quota', { token: admin, body: { daily: 0, tier: null }, expectStatus: 200 });
    const capped = await call('post /api/v1/runs', '/api/v1/runs', { token: server.token('capped'), body: { agent: 'fast', prompt: 'x' }, expectStatus: 429, code: 'daily_limit' });
    expect(capped.headers.get('retry-after')).toMatch(/^\d+$/);

    // A daily budget of 0 refuses with 429 budget_exhausted; a run budget above the daily budget with 400.
    await call('put /api/v1/admin/users/{id}/quota', '/api/v1/admin/users/broke/quota', { token: admin, body: { dailyBudgetUsd: 0 }, expectStatus: 200 });
    const broke = await call('post /api/v1/runs', '/api/v1/runs', { token: server.token('broke'), body: { agent: 'fast', prompt: 'x' }, expectStatus: 429, code: 'budget_exhausted' });
    expect(broke.headers.get('retry-after')).toMatch(/^\d+$/);
    await call('post /api/v1/runs', '/api/v1/runs', { token: alice, body: { agent: 'fast', prompt: 'x', maxBudgetUsd: 1_000 }, expectStatus: 400, code: 'budget_exceeds_quota' });
  });

  it('approvals of tool calls', async () => {
    // A running run with a call waiting, stored as the node running a gated claude agent stores it
    // (approvals.e2e-spec.ts runs the real agent); the route reads and writes only the database.
    const sleeping = await call('post /api/v1/runs', '/api/v1/runs', { token: alice, body: { agent: 'sleeper', prompt: 'gated' }, expectStatus: 202 });
    const runId = sleeping.json.id as string;
    await waitForStatus(server, alice, runId, ['running']);
    const approvalId = '019ab3f4-0b7d-7a13-8c2e-5d9f1e0a6b47';
    const database = server.app.get(DatabaseService);
    const now = Date.now();
    await database.query(database.dataSource.manager, 'INSERT INTO run_approvals (id, run_id, tool, input, requested_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)', [
      approvalId,
      runId,
      'Bash',
      JSON.stringify({ command: 'git push', description: 'push' }),
      new Date(now).toISOString(),
      new Date(now + 60_000).toISOString(),
    ]);
    const waiting = await call('get /api/v1/runs/{id}', `/api/v1/runs/${runId}`, { token: alice, expectStatus: 200 });
    expect(waiting.json.pendingApproval).toMatchObject({ approvalId, tool: 'Bash' });
    const path = `/api/v1/runs/${runId}/approvals/${approvalId}`;
    await call('post /api/v1/runs/{id}/approvals/{approvalId}', path, { token: alice, body: { decision: 'perhaps' }, expectStatus: 400, code: 'validation_failed' });
    await call('post /api/v1/runs/{id}/approvals/{approvalId}', path, { token: server.token('bob'), body: { decision: 'allow' }, expectStatus: 404, code: 'run_not_found' });
    await call('post /api/v1/runs/{id}/approvals/{approvalId}', `/api/v1/runs/${runId}/approvals/${runId}`, { token: alice, body: { decision: 'allow' }, expectStatus: 404, code: 'approval_not_found' });
    const decided = await call('post /api/v1/runs/{id}/approvals/{approvalId}', path, { token: alice, body: { decision: 'deny', message: 'not from CI' }, expectStatus: 200 });
    expect(decided.json.pendingApproval).toBeNull();
    await call('post /api/v1/runs/{id}/approvals/{approvalId}', path, { token: admin, body: { decision: 'allow' }, expectStatus: 409, code: 'approval_closed' });
    await call('post /api/v1/runs/{id}/approvals/{approvalId}', path, { body: { decision: 'allow' }, expectStatus: 401, code: 'unauthorized' });
    await call('post /api/v1/runs/{id}/cancel', `/api/v1/runs/${runId}/cancel`, { token: alice, expectStatus: 202 });
    await waitForStatus(server, alice, runId, ['cancelled']);
  });

  it('workspaces, specs and a diff', async () => {
    const key = { 'idempotency-key': 'workspace-1' };
    const created = await call('post /api/v1/workspaces', '/api/v1/workspaces', { token: alice, body: { name: 'shop' }, headers: key, expectStatus: 201 });
    const replay = await call('post /api/v1/workspaces', '/api/v1/workspaces', { token: alice, body: { name: 'shop' }, headers: key, expectStatus: 201 });
    expect(replay.json).toEqual(created.json);
    await call('post /api/v1/workspaces', '/api/v1/workspaces', { token: alice, body: { name: 'shop' }, expectStatus: 409, code: 'workspace_exists' });
    await call('post /api/v1/workspaces', '/api/v1/workspaces', { token: alice, body: { name: '../x' }, expectStatus: 400, code: 'validation_failed' });
    await call('post /api/v1/workspaces', '/api/v1/workspaces', { token: alice, body: { name: 'cloned', repoUrl: 'http://example.com/x.git' }, expectStatus: 400, code: 'repo_url_not_allowed' });
    // An https URL nothing listens on: git fails at once, without leaving this machine.
    await call('post /api/v1/workspaces', '/api/v1/workspaces', { token: alice, body: { name: 'cloned', repoUrl: 'https://127.0.0.1:1/x.git' }, expectStatus: 422, code: 'clone_failed' });
    await call('get /api/v1/workspaces', '/api/v1/workspaces', { token: alice, expectStatus: 200 });
    await call('get /api/v1/workspaces/{name}', '/api/v1/workspaces/shop', { token: alice, expectStatus: 200 });
    await call('get /api/v1/workspaces/{name}', '/api/v1/workspaces/absent', { token: alice, expectStatus: 404, code: 'workspace_not_found' });
    const spec = await call('post /api/v1/workspaces/{name}/specs', '/api/v1/workspaces/shop/specs', { token: alice, body: { title: 'Add login', body: 'A login page.' }, expectStatus: 201 });
    await call('get /api/v1/workspaces/{name}/specs', '/api/v1/workspaces/shop/specs', { token: alice, expectStatus: 200 });
    await call('get /api/v1/workspaces/{name}/specs/{specId}', `/api/v1/workspaces/shop/specs/${spec.json.id}`, { token: alice, expectStatus: 200 });
    await call('get /api/v1/workspaces/{name}/specs/{specId}', '/api/v1/workspaces/shop/specs/999-none', { token: alice, expectStatus: 404, code: 'spec_not_found' });

    const run = await call('post /api/v1/runs', '/api/v1/runs', { token: alice, body: { agent: 'fast', specId: spec.json.id, workspace: 'shop' }, expectStatus: 202 });
    await waitForStatus(server, alice, run.json.id, ['succeeded']);
    await call('get /api/v1/runs/{id}/diff', `/api/v1/runs/${run.json.id}/diff`, { token: alice, expectStatus: 200 });

    // The seed's routes, on the `default` workspace.
    await call('post /api/v1/workspaces', '/api/v1/workspaces', { token: alice, body: { name: 'default' }, expectStatus: 201 });
    const seedSpec = await call('post /api/v1/workspaces/{name}/specs', '/api/v1/workspaces/default/specs', { token: alice, body: { title: 'Seed', body: 'x' }, expectStatus: 201 });
    const task = await call('post /api/agents/run', '/api/agents/run', { token: alice, body: { spec_id: seedSpec.json.id, agent_type: 'planner' }, expectStatus: 202 });
    await call('post /api/agents/run', '/api/agents/run', { token: alice, body: { spec_id: seedSpec.json.id, agent_type: 'planner' }, expectStatus: 409, code: 'run_conflict' });
    await call('get /api/agents/status/{taskId}', `/api/agents/status/${task.json.task_id}`, { token: alice, expectStatus: 200 });
    await call('get /api/agents/status/{taskId}', '/api/agents/status/nope', { token: alice, expectStatus: 404 });
    // A busy workspace cannot be deleted.
    await call('delete /api/v1/workspaces/{name}', '/api/v1/workspaces/default', { token: alice, expectStatus: 409, code: 'workspace_busy' });
    await call('post /api/agents/cancel/{taskId}', `/api/agents/cancel/${task.json.task_id}`, { token: alice, expectStatus: 200 });
    await waitForStatus(server, alice, task.json.task_id, ['cancelled']);
    await call('get /api/agents/status/{taskId}', `/api/agents/status/${task.json.task_id}`, { token: alice, expectStatus: 200 });
    await call('post /api/agents/cancel/{taskId}', `/api/agents/cancel/${task.json.task_id}`, { token: alice, expectStatus: 409, code: 'run_finished' });
    await call('post /api/agents/cancel/{taskId}', '/api/agents/cancel/nope', { token: alice, expectStatus: 404, code: 'run_not_found' });
    await call('post /api/agents/run', '/api/agents/run', { token: alice, body: { spec_id: seedSpec.json.id, agent_type: 'nobody' }, expectStatus: 400 });
    await call('get /api/agents/health', '/api/agents/health', { expectStatus: 200 });

    await call('delete /api/v1/workspaces/{name}', '/api/v1/workspaces/shop', { token: alice, expectStatus: 204 });
    await call('delete /api/v1/workspaces/{name}', '/api/v1/workspaces/shop', { token: alice, expectStatus: 404, code: 'workspace_not_found' });
  });

  it('webhooks and their deliveries', async () => {
    const bob = server.token('bob');
    const hook = await call('post /api/v1/webhooks', '/api/v1/webhooks', { token: bob, body: { url: receiverUrl, events: ['run.succeeded'] }, expectStatus: 201 });
    await call('post /api/v1/webhooks', '/api/v1/webhooks', { token: bob, body: { url: 'ftp://example.com/x' }, expectStatus: 400 });
    // The second server does not allow private networks: a loopback endpoint is refused.
    await call('post /api/v1/webhooks', '/api/v1/webhooks', { on: limited, token: limited.token('erin'), body: { url: receiverUrl }, expectStatus: 400, code: 'webhook_url_not_allowed' });
    await call('get /api/v1/webhooks', '/api/v1/webhooks', { token: bob, expectStatus: 200 });
    const run = await call('post /api/v1/runs', '/api/v1/runs', { token: bob, body: { agent: 'fast', prompt: 'hook' }, expectStatus: 202 });
    await waitForStatus(server, bob, run.json.id, ['succeeded']);
    const deliveries = await call('get /api/v1/webhooks/{id}/deliveries', `/api/v1/webhooks/${hook.json.id}/deliveries`, { token: bob, expectStatus: 200 });
    expect(deliveries.json.items.length).toBe(1);
    const delivery = deliveries.json.items[0].id as string;
    await call('post /api/v1/webhooks/{id}/deliveries/{deliveryId}/redeliver', `/api/v1/webhooks/${hook.json.id}/deliveries/${delivery}/redeliver`, { token: bob, expectStatus: 202 });
    await call('post /api/v1/webhooks/{id}/deliveries/{deliveryId}/redeliver', `/api/v1/webhooks/${hook.json.id}/deliveries/${hook.json.id}/redeliver`, { token: bob, expectStatus: 404, code: 'webhook_delivery_not_found' });
    await call('delete /api/v1/webhooks/{id}', `/api/v1/webhooks/${hook.json.id}`, { token: bob, expectStatus: 204 });
    await call('delete /api/v1/webhooks/{id}', `/api/v1/webhooks/${hook.json.id}`, { token: bob, expectStatus: 404, code: 'webhook_not_found' });
    await call('get /api/v1/webhooks/{id}/deliveries', `/api/v1/webhooks/${hook.json.id}/deliveries`, { token: bob, expectStatus: 404, code: 'webhook_not_found' });
  });

  it('credentials, pushes and pull requests', async () => {
    const origin = pathToFileURL(join(repos, 'origin.git')).href;
    const forge = { kind: 'github', apiUrl: `${github.url}/api/v3`, repository: 'acme/widgets' };
    await call('post /api/v1/workspaces', '/api/v1/workspaces', { token: alice, body: { name: 'forged', repoUrl: origin, forge }, expectStatus: 201 });
    await call('post /api/v1/workspaces', '/api/v1/workspaces', { token: alice, body: { name: 'forgeless', repoUrl: origin }, expectStatus: 201 });
    await call('post /api/v1/workspaces', '/api/v1/workspaces', { token: alice, body: { name: 'local' }, expectStatus: 201 });
    await call('get /api/v1/workspaces/{name}', '/api/v1/workspaces/forged', { token: alice, expectStatus: 200 });
    await call('put /api/v1/workspaces/{name}/credentials', '/api/v1/workspaces/forged/credentials', { token: alice, body: { kind: 'token', token: 'ghp_contract0123456789' }, expectStatus: 200 });
    await call('put /api/v1/workspaces/{name}/credentials', '/api/v1/workspaces/forged/credentials', { token: alice, body: { kind: 'token' }, expectStatus: 400, code: 'validation_failed' });
    await call('put /api/v1/workspaces/{name}/credentials', '/api/v1/workspaces/absent/credentials', { token: alice, body: { kind: 'token', token: 'x' }, expectStatus: 404, code: 'workspace_not_found' });

    const writer = JSON.stringify({ file: 'contract.txt', content: 'contract\n' });
    const submitted = await call('post /api/v1/runs', '/api/v1/runs', { token: alice, body: { agent: 'writer', prompt: writer, workspace: 'forged' }, expectStatus: 202 });
    const run = submitted.json.id as string;
    await waitForStatus(server, alice, run, ['succeeded']);
    await call('post /api/v1/runs/{id}/push', `/api/v1/runs/${run}/push`, { token: alice, expectStatus: 200 });
    await call('post /api/v1/runs/{id}/push', `/api/v1/runs/${run}/push`, { token: server.token('mallory'), expectStatus: 404, code: 'run_not_found' });
    await call('post /api/v1/runs/{id}/pull-request', `/api/v1/runs/${run}/pull-request`, { token: alice, body: { draft: 'yes' }, expectStatus: 400, code: 'validation_failed' });
    await call('post /api/v1/runs/{id}/pull-request', `/api/v1/runs/${run}/pull-request`, { token: alice, body: {}, expectStatus: 201 });
    await call('get /api/v1/runs/{id}', `/api/v1/runs/${run}`, { token: alice, expectStatus: 200 });
    await call('post /api/v1/runs/{id}/pull-request', `/api/v1/runs/${run}/pull-request`, { token: alice, body: {}, expectStatus: 409, code: 'pull_request_exists' });

    const second = await call('post /api/v1/runs', '/api/v1/runs', { token: alice, body: { agent: 'writer', prompt: writer, workspace: 'forged', pullRequest: { open: true, base: 'main' } }, expectStatus: 202 });
    await waitForStatus(server, alice, second.json.id, ['succeeded']);
    await waitFor(async () => (await server.request('GET', `/api/v1/runs/${second.json.id}`, { token: alice })).json?.pullRequest, 15_000, 'the pull request');
    await call('get /api/v1/runs/{id}', `/api/v1/runs/${second.json.id}`, { token: alice, expectStatus: 200 });
    const third = await call('post /api/v1/runs', '/api/v1/runs', { token: alice, body: { agent: 'writer', prompt: writer, workspace: 'forged' }, expectStatus: 202 });
    await waitForStatus(server, alice, third.json.id, ['succeeded']);
    github.answers.push({ status: 422, body: { message: 'Validation Failed' } });
    await call('post /api/v1/runs/{id}/pull-request', `/api/v1/runs/${third.json.id}/pull-request`, { token: alice, body: { title: 'Contract' }, expectStatus: 502, code: 'forge_request_failed' });

    const unchanged = await call('post /api/v1/runs', '/api/v1/runs', { token: alice, body: { agent: 'fast', prompt: 'nothing', workspace: 'forged' }, expectStatus: 202 });
    await waitForStatus(server, alice, unchanged.json.id, ['succeeded']);
    await call('post /api/v1/runs/{id}/push', `/api/v1/runs/${unchanged.json.id}/push`, { token: alice, expectStatus: 409, code: 'nothing_to_push' });
    const local = await call('post /api/v1/runs', '/api/v1/runs', { token: alice, body: { agent: 'writer', prompt: writer, workspace: 'local' }, expectStatus: 202 });
    await waitForStatus(server, alice, local.json.id, ['succeeded']);
    await call('post /api/v1/runs/{id}/push', `/api/v1/runs/${local.json.id}/push`, { token: alice, expectStatus: 409, code: 'no_remote' });
    const plain = await call('post /api/v1/runs', '/api/v1/runs', { token: alice, body: { agent: 'writer', prompt: writer, workspace: 'forgeless' }, expectStatus: 202 });
    await waitForStatus(server, alice, plain.json.id, ['succeeded']);
    await call('post /api/v1/runs/{id}/pull-request', `/api/v1/runs/${plain.json.id}/pull-request`, { token: alice, body: {}, expectStatus: 409, code: 'forge_not_configured' });
    const sleeping = await call('post /api/v1/runs', '/api/v1/runs', { token: alice, body: { agent: 'sleeper', prompt: 'hold', workspace: 'forgeless' }, expectStatus: 202 });
    await waitForStatus(server, alice, sleeping.json.id, ['running']);
    await call('post /api/v1/runs/{id}/push', `/api/v1/runs/${sleeping.json.id}/push`, { token: alice, expectStatus: 409, code: 'run_active' });
    await call('post /api/v1/runs/{id}/cancel', `/api/v1/runs/${sleeping.json.id}/cancel`, { token: alice, expectStatus: 202 });
    await waitForStatus(server, alice, sleeping.json.id, ['cancelled']);
    // The repository it was cloned from is gone: git's refusal is a 502.
    rmSync(join(repos, 'origin.git'), { recursive: true, force: true });
    await call('post /api/v1/runs/{id}/push', `/api/v1/runs/${plain.json.id}/push`, { token: alice, expectStatus: 502, code: 'push_failed' });

    await call('delete /api/v1/workspaces/{name}/credentials', '/api/v1/workspaces/forged/credentials', { token: alice, expectStatus: 204 });
    await call('delete /api/v1/workspaces/{name}/credentials', '/api/v1/workspaces/absent/credentials', { token: alice, expectStatus: 404, code: 'workspace_not_found' });
  });

  it('agents, quota, admin, health, metrics and the rate limit', async () => {
    await call('get /api/v1/agents', '/api/v1/agents', { token: alice, expectStatus: 200 });
    await call('get /api/v1/quota', '/api/v1/quota', { token: alice, expectStatus: 200 });
    await call('get /api/v1/quota', '/api/v1/quota', { token: 'not-a-token', expectStatus: 401, code: 'unauthorized' });
    await call('get /api/v1/admin/users', '/api/v1/admin/users', { token: admin, expectStatus: 200 });
    await call('get /api/v1/admin/users', '/api/v1/admin/users', { token: alice, expectStatus: 403, code: 'forbidden' });
    await call('put /api/v1/admin/users/{id}/quota', '/api/v1/admin/users/alice/quota', { token: admin, body: { tier: 'premium', concurrent: null }, expectStatus: 200 });
    await call('put /api/v1/admin/users/{id}/quota', '/api/v1/admin/users/alice/quota', { token: admin, body: { tier: 'gold' }, expectStatus: 400, code: 'validation_failed' });
    await call('get /api/v1/admin/runs', '/api/v1/admin/runs?userId=alice&limit=3', { token: admin, expectStatus: 200 });
    await call('get /api/v1/admin/runs', '/api/v1/admin/runs', { token: alice, expectStatus: 403, code: 'forbidden' });

    await call('get /health/live', '/health/live', { expectStatus: 200 });
    await call('get /health/ready', '/health/ready', { expectStatus: 200 });
    await call('get /health/detailed', '/health/detailed', { token: admin, expectStatus: 200 });
    await call('get /health/detailed', '/health/detailed', { expectStatus: 401, code: 'unauthorized' });
    await call('get /health/detailed', '/health/detailed', { token: alice, expectStatus: 403, code: 'forbidden' });
    await call('get /metrics', '/metrics', { expectStatus: 200 });

    // In reject mode, a user at their concurrent limit is refused at once.
    await call('put /api/v1/admin/users/{id}/quota', '/api/v1/admin/users/dave/quota', { on: limited, token: limited.token('root', { admin: true }), body: { concurrent: 1 }, expectStatus: 200 });
    const dave = limited.token('dave');
    await call('post /api/v1/runs', '/api/v1/runs', { on: limited, token: dave, body: { agent: 'sleeper', prompt: 'hold the slot' }, expectStatus: 202 });
    const busy = await call('post /api/v1/runs', '/api/v1/runs', { on: limited, token: dave, body: { agent: 'sleeper', prompt: 'one too many' }, expectStatus: 429, code: 'concurrency_limit' });
    expect(busy.headers.get('retry-after')).toMatch(/^\d+$/);
    await call('post /api/v1/runs', '/api/v1/runs', { token: server.token('tim'), body: { agent: 'fast', prompt: 'too long', timeoutSeconds: 7000 }, expectStatus: 400, code: 'timeout_exceeds_quota' });

    // Two requests a minute: the third answers 429 `rate_limited`; the others carry the rate-limit headers.
    const carol = limited.token('carol');
    const first = await call('get /api/v1/quota', '/api/v1/quota', { on: limited, token: carol, expectStatus: 200 });
    expect(first.headers.get('x-ratelimit-limit')).toBe('2');
    await call('get /api/v1/quota', '/api/v1/quota', { on: limited, token: carol, expectStatus: 200 });
    const refused = await call('get /api/v1/quota', '/api/v1/quota', { on: limited, token: carol, expectStatus: 429, code: 'rate_limited' });
    expect(refused.headers.get('retry-after')).toMatch(/^\d+$/);
  });

  it('the dashboard session: sign-in with a token or a one-time link, CSRF, sign-out', async () => {
    const signedIn = await call('post /api/v1/session', '/api/v1/session', { body: { token: alice }, expectStatus: 200 });
    const cookie = signedIn.headers.get('set-cookie')!.split(';')[0]!;
    await call('post /api/v1/session', '/api/v1/session', { body: { token: 'not-a-token' }, expectStatus: 401, code: 'unauthorized' });
    await call('post /api/v1/session', '/api/v1/session', { body: { token: 7 }, expectStatus: 400, code: 'validation_failed' });
    await call('get /api/v1/session', '/api/v1/session', { headers: { cookie }, expectStatus: 200 });
    await call('get /api/v1/session', '/api/v1/session', { expectStatus: 401, code: 'unauthorized' });
    // An unsafe request the cookie signs in, without the session's CSRF token.
    await call('post /api/v1/runs', '/api/v1/runs', { headers: { cookie }, body: { agent: 'fast', prompt: 'no csrf' }, expectStatus: 403, code: 'csrf_failed' });
    await call('delete /api/v1/session', '/api/v1/session', { headers: { cookie }, expectStatus: 403, code: 'csrf_failed' });
    await call('delete /api/v1/session', '/api/v1/session', { headers: { cookie, 'x-csrf-token': signedIn.json.csrfToken }, expectStatus: 204 });
    const { code } = await server.app.get(SessionsService).createLoginLink({ id: 'alice', role: 'user' }, 3600);
    await call('post /api/v1/session/login-link', '/api/v1/session/login-link', { body: { code }, expectStatus: 200 });
    await call('post /api/v1/session/login-link', '/api/v1/session/login-link', { body: { code }, expectStatus: 400, code: 'login_link_invalid' });
  });

  it('has called every operation of the document', () => {
    expect(contract.operations.filter((key) => !contract.called.has(key)), 'operations never called').toEqual([]);
  });
});
