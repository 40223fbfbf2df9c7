import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, it } from '@jest/globals';
import { expect } from './jest/expect.js';
import { PROBLEM_STATUS, type ProblemCode } from '../src/common/problem.js';
import { SCHEMA_EXAMPLES } from '../src/openapi-examples.js';
import { startBuiltServer, type BuiltServer } from './helpers/test-server.js';

// The committed openapi.json is what the built server serves (regenerate it with `npm run openapi`).

const ROOT = join(import.meta.dirname, '..');
const METHODS = ['get', 'put', 'post', 'delete', 'patch', 'head', 'options'];

// The document is JSON read back: tests walk arbitrary members.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = Record<string, any>;

interface Operation {
  name: string;
  operation: Json;
}

function operationsOf(document: Json): Operation[] {
  return Object.entries(document.paths as Json).flatMap(([path, item]) =>
    Object.entries(item as Json)
      .filter(([method]) => METHODS.includes(method))
      .map(([method, operation]) => ({ name: `${method.toUpperCase()} ${path}`, operation: operation as Json })),
  );
}

/** The codes a problem+json response lists, from its `allOf: [ProblemDocument, {code: {enum}}]` schema. */
function problemCodes(response: Json | undefined): string[] {
  const schema = response?.content?.['application/problem+json']?.schema;
  expect(schema?.allOf?.[0]?.$ref).toBe('#/components/schemas/ProblemDocument');
  return schema.allOf[1].properties.code.enum;
}

/** Every `$ref` anywhere under `value`. */
function refsIn(value: unknown): string[] {
  if (Array.isArray(value)) return value.flatMap(refsIn);
  if (value === null || typeof value !== 'object') return [];
  return Object.entries(value).flatMap(([key, member]) => (key === '$ref' && typeof member === 'string' ? [member] : refsIn(member)));
}

describe('OpenAPI document', () => {
  let dataDir: string;
  let server: BuiltServer;
  let served: Json;

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'autocode-openapi-'));
    server = await startBuiltServer({ PATH: process.env.PATH!, DATA_DIR: dataDir, PORT: '0', LOG_LEVEL: 'info', LOG_FORMAT: 'json', ROLE: 'api' });
    served = (await (await fetch(`${server.url}/api/openapi.json`)).json()) as Json;
  });

  afterAll(async () => {
    await server?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('is served publicly, matches the committed openapi.json, and documents the bearer scheme', async () => {
    const committed = JSON.parse(readFileSync(join(ROOT, 'openapi.json'), 'utf8'));
    expect(served, 'openapi.json is stale: run `npm run openapi`').toEqual(committed);
    expect(served.components.securitySchemes.bearer).toMatchObject({ type: 'http', scheme: 'bearer' });
    expect(served.paths['/api/v1/runs'].post.requestBody.content['application/json'].schema.$ref).toBe('#/components/schemas/SubmitRunDto');
    expect(served.paths['/health/live'].get.security).toEqual([]);
    expect(served.paths['/api/v1/runs'].get.security).toBeUndefined();
    expect((await fetch(`${server.url}/api/docs`)).status).toBe(200);
    for (const name of Object.keys(SCHEMA_EXAMPLES)) expect(served.components.schemas[name]?.examples, `${name} has no example`).toHaveLength(1);
  });

  it('documents the submit: 202 with the run, 429 problem+json with the quota codes', () => {
    const responses = served.paths['/api/v1/runs'].post.responses;
    expect(Object.keys(responses).filter((status) => status.startsWith('2'))).toEqual(['202']);
    expect(responses['202'].content['application/json'].schema.$ref).toBe('#/components/schemas/RunView');
    expect(problemCodes(responses['429'])).toEqual(expect.arrayContaining(['daily_limit', 'queue_full', 'concurrency_limit', 'rate_limited']));
    expect(responses['429'].headers['Retry-After']).toBeDefined();
    expect(problemCodes(responses['400'])).toEqual(expect.arrayContaining(['validation_failed', 'unknown_agent', 'timeout_exceeds_quota']));
    expect(problemCodes(responses['503'])).toEqual(['shutting_down']);

    const run = served.components.schemas.RunView;
    expect(run.required).toEqual(expect.arrayContaining(['id', 'status', 'prompt', 'createdAt', 'error', 'result']));
    expect(run.properties.finishedAt).toMatchObject({ type: ['string', 'null'], format: 'date-time' });
    expect(run.properties.error).toEqual({ anyOf: [{ $ref: '#/components/schemas/RunError' }, { type: 'null' }] });
    expect(served.components.schemas.QuotaOverrides.properties.tier.enum).toContain(null);
    expect(run.properties.metadata).toMatchObject({ type: 'object', additionalProperties: true });
    expect(served.openapi).toBe('3.1.0');
    expect(served.components.schemas.RunStatus.enum).toEqual(['queued', 'running', 'succeeded', 'failed', 'cancelled', 'timed_out', 'interrupted']);
  });

  it('documents the run list as a RunPage', () => {
    expect(served.paths['/api/v1/runs'].get.responses['200'].content['application/json'].schema.$ref).toBe('#/components/schemas/RunPage');
    const page = served.components.schemas.RunPage;
    expect(page.properties.items).toEqual({ type: 'array', items: { $ref: '#/components/schemas/RunView' } });
    expect(page.properties.nextCursor).toMatchObject({ type: ['string', 'null'] });
  });

  it('documents 401 and 429 on every protected operation, 403 on the admin routes, and 403 csrf_failed on the unsafe ones', () => {
    const operations = operationsOf(served);
    // The document's bearer requirement applies; /health/detailed lists its own, optional one.
    const isProtected = ({ operation }: Operation): boolean => operation.security === undefined;
    expect(operations.filter(isProtected).length).toBeGreaterThan(15);
    for (const { name, operation } of operations.filter(isProtected)) {
      expect(problemCodes(operation.responses['401']), name).toContain('unauthorized');
      expect(problemCodes(operation.responses['429']), name).toContain('rate_limited');
    }
    for (const { name, operation } of operations.filter(({ name }) => name.includes('/api/v1/admin/'))) {
      expect(problemCodes(operation.responses['403']), name).toContain('forbidden');
    }
    // A request the dashboard's session cookie signs in needs the CSRF token on every method but GET, HEAD and OPTIONS.
    for (const { name, operation } of operations.filter(isProtected)) {
      const unsafe = !/^(GET|HEAD|OPTIONS) /.test(name);
      const forbidden = operation.responses['403'] as Json | undefined;
      expect(forbidden !== undefined && problemCodes(forbidden).includes('csrf_failed'), name).toBe(unsafe);
    }
  });

  it('documents each error code under the status the server answers it with', () => {
    for (const { name, operation } of operationsOf(served)) {
      for (const [status, response] of Object.entries(operation.responses as Json)) {
        if (!response.content?.['application/problem+json']) continue;
        for (const code of problemCodes(response)) {
          expect(PROBLEM_STATUS[code as ProblemCode], `${name} ${status} ${code}`).toBe(Number(status));
        }
      }
    }
  });

  // No successful payload of this API is free-form: each one has its shape documented.
  it('gives every successful response a schema, none of them a bare object', () => {
    for (const { name, operation } of operationsOf(served)) {
      const successes = Object.entries(operation.responses as Json).filter(([status]) => status.startsWith('2'));
      expect(successes.length, name).toBeGreaterThan(0);
      for (const [status, response] of successes) {
        if (status === '204') {
          expect(response.content, name).toBeUndefined();
          continue;
        }
        expect(Object.keys(response.content ?? {}).length, `${name} ${status} has no content`).toBeGreaterThan(0);
        for (const [mediaType, { schema }] of Object.entries(response.content as Json)) {
          const where = `${name} ${status} ${mediaType}`;
          expect(schema, where).toBeDefined();
          const bareObject = schema.type === 'object' && !schema.properties && !schema.additionalProperties && !schema.allOf;
          expect(bareObject || Object.keys(schema).length === 0, `${where} is a bare object`).toBe(false);
        }
      }
    }
  });

  it('resolves every reference', () => {
    const components = Object.entries(served.components as Json).flatMap(([kind, members]) => Object.keys(members as Json).map((name) => `#/components/${kind}/${name}`));
    for (const ref of new Set(refsIn(served.paths).concat(refsIn(served.components)))) {
      expect(components, ref).toContain(ref);
    }
  });
});
