import type { INestApplication } from '@nestjs/common';
import {
  DocumentBuilder,
  SwaggerModule,
  type HeaderObject,
  type OpenAPIObject,
  type OperationObject,
  type ParameterObject,
  type ReferenceObject,
  type ResponseObject,
  type SchemaObject,
} from '@nestjs/swagger';
import { runEventSchemas } from './runs/run-event.schemas.js';
import { PUBLIC_OPERATION_EXTENSION, UNTHROTTLED_OPERATION_EXTENSION } from './auth/auth.decorators.js';
import { SAFE_METHODS, SESSION_COOKIE } from './auth/session-cookie.js';
import { addProblemResponses } from './common/api-problems.js';
import { ProblemDocument } from './common/problem.view.js';
import { VERSION } from './metrics/version.js';
import { SCHEMA_EXAMPLES } from './openapi-examples.js';

const METHODS = ['get', 'put', 'post', 'delete', 'patch', 'head', 'options'] as const;

/** The groups of operations, in the order a reader meets them. */
const TAGS: { name: string; description: string }[] = [
  { name: 'Runs', description: 'Submit runs, follow their events and read their logs and diffs' },
  { name: 'Agents', description: 'The agent profiles this server offers' },
  { name: 'Quota', description: 'Limits and usage' },
  { name: 'Workspaces', description: 'Named git workspaces and the specs in them' },
  { name: 'Webhooks', description: 'Endpoints that receive the runs\' events, signed per Standard Webhooks' },
  { name: 'Admin', description: 'Every user\'s runs and quotas; admin token only' },
  { name: 'Session', description: 'The dashboard\'s sign-in: a token or a one-time link exchanged for an HttpOnly session cookie' },
  { name: 'Health', description: 'Liveness, readiness and the detailed report' },
  { name: 'Metrics', description: 'Prometheus metrics' },
  { name: 'Seed compatibility', description: 'The routes of the Auto Code web backend, mapped onto runs, for its existing clients' },
];

/** Response headers, in `components.headers`. */
const HEADERS: Record<string, HeaderObject> = {
  RequestId: {
    description: "The request's id in the server log: the client's `X-Request-Id` when it is a sane token, else one the server made",
    required: true,
    schema: { type: 'string' },
  },
  // Answers of Node's HTTP parser (a request it could not read as HTTP, headers too large) come before there is a request id.
  RequestIdUnlessUnparsed: {
    description: "The request's id in the server log; absent when Node's HTTP parser refused the request (`bad_request`, `headers_too_large`)",
    schema: { type: 'string' },
  },
  RateLimitLimit: { description: 'Requests allowed per window (`RATE_LIMIT_PER_MINUTE`)', schema: { type: 'integer', minimum: 0 } },
  RateLimitRemaining: { description: 'Requests left in the current window', schema: { type: 'integer', minimum: 0 } },
  RateLimitReset: { description: 'Seconds until the current window ends', schema: { type: 'integer', minimum: 0 } },
  RetryAfter: { description: 'Seconds to wait before trying again', schema: { type: 'integer', minimum: 0 } },
  IdempotentReplayed: { description: '`true` when this is the stored answer to an earlier request with the same `Idempotency-Key`', schema: { type: 'string', enum: ['true'] } },
};

const headerRef = (name: keyof typeof HEADERS): ReferenceObject => ({ $ref: `#/components/headers/${name}` });

/**
 * Number members that are not whole numbers; every other `number` of the views and DTOs is an
 * integer (counts, limits, seconds, milliseconds, sequence numbers, statuses).
 */
const FRACTIONAL = new Set(['costUsd', 'maxBudgetUsd', 'dailyBudgetUsd', 'usedUsd', 'limitUsd']);

/** String members that hold a UUID, by schema. */
const UUID_MEMBERS: Record<string, string[]> = {
  RunView: ['id'],
  SeedTaskStarted: ['task_id'],
  // SeedTask: not there, its 404 echoes whatever task id was asked for.
  SeedTaskCancelled: ['task_id'],
  WebhookEndpointView: ['id'],
  CreatedWebhookEndpoint: ['id'],
  WebhookDeliveryView: ['id', 'endpointId'],
  PendingApproval: ['approvalId'],
};

/** String members that hold an absolute URI, by schema. */
const URI_MEMBERS: Record<string, string[]> = {
  ProblemDocument: ['type'],
  WebhookEndpointView: ['url'],
  CreatedWebhookEndpoint: ['url'],
  CreateWebhookDto: ['url'],
  RunPullRequest: ['url'],
  WorkspaceForgeView: ['apiUrl'],
};

/** Times are ISO-8601 UTC strings, and every member holding one is named `…At`, or `ts`. */
const isTimeMember = (name: string): boolean => name === 'ts' || /[a-z]At$/.test(name);

type Schema = SchemaObject & Record<string, unknown>;

function isReference(value: unknown): value is ReferenceObject {
  return typeof value === 'object' && value !== null && '$ref' in value;
}

/** Calls `visit` on every schema object under `value`, children first. */
function walkSchemas(value: unknown, visit: (schema: Schema) => void): void {
  if (Array.isArray(value)) {
    value.forEach((member) => walkSchemas(member, visit));
    return;
  }
  if (value === null || typeof value !== 'object') return;
  for (const member of Object.values(value)) walkSchemas(member, visit);
  const schema = value as Schema;
  if ('type' in schema || 'allOf' in schema || 'oneOf' in schema || 'nullable' in schema || 'example' in schema) visit(schema);
}

/**
 * OpenAPI 3.1 (JSON Schema 2020-12) from what @nestjs/swagger writes in 3.0 terms, so strict
 * validators and generators read nullability as the server means it: `nullable` beside an
 * `allOf: [$ref]` is ignored by them, and a nullable enum must list `null`.
 */
function toJsonSchema2020(schema: Schema): void {
  if (schema.nullable === true) {
    delete schema.nullable;
    if (typeof schema.type === 'string') {
      schema.type = [schema.type, 'null'];
      if (Array.isArray(schema.enum) && !schema.enum.includes(null)) schema.enum = [...(schema.enum as unknown[]), null];
    } else {
      const target = schema.allOf?.length === 1 ? schema.allOf[0] : isReference(schema) ? { $ref: schema.$ref } : undefined;
      if (!target) throw new Error(`openapi: cannot make ${JSON.stringify(schema)} nullable`);
      delete schema.allOf;
      delete (schema as Record<string, unknown>).$ref;
      schema.oneOf = [target, { type: 'null' }];
    }
  } else if (schema.nullable === false) {
    delete schema.nullable;
  }
  // 3.1 lets `$ref` have siblings (a description): the 3.0 `allOf` wrapper is no longer needed.
  if (schema.allOf?.length === 1 && isReference(schema.allOf[0]) && !schema.oneOf && !schema.anyOf && !schema.type) {
    (schema as Record<string, unknown>).$ref = schema.allOf[0].$ref;
    delete schema.allOf;
  }
  if ('example' in schema) {
    schema.examples = [schema.example];
    delete schema.example;
  }
}

const typeIncludes = (schema: SchemaObject, type: string): boolean => schema.type === type || (Array.isArray(schema.type) && schema.type.includes(type));

function withType(schema: SchemaObject, from: string, to: string): void {
  schema.type = Array.isArray(schema.type) ? schema.type.map((type) => (type === from ? to : type)) : to;
}

/** Formats and integer types the TypeScript types cannot say. */
function refineMembers(name: string, schema: SchemaObject): void {
  for (const [member, property] of Object.entries(schema.properties ?? {})) {
    if (isReference(property)) continue;
    if (typeIncludes(property, 'number') && !FRACTIONAL.has(member)) withType(property, 'number', 'integer');
    if (typeIncludes(property, 'string') && !property.format) {
      if (isTimeMember(member)) property.format = 'date-time';
      else if (UUID_MEMBERS[name]?.includes(member)) property.format = 'uuid';
      else if (URI_MEMBERS[name]?.includes(member)) property.format = 'uri';
    }
  }
}

function operationsOf(document: OpenAPIObject): { path: string; method: (typeof METHODS)[number]; operation: OperationObject & Record<string, unknown> }[] {
  return Object.entries(document.paths).flatMap(([path, item]) =>
    METHODS.filter((method) => item[method]).map((method) => ({ path, method, operation: item[method] as OperationObject & Record<string, unknown> })),
  );
}

/** The OpenAPI 3.1 document of the API, from the controllers and the DTO metadata the build's swagger plugin wrote. */
export function buildOpenApiDocument(app: INestApplication): OpenAPIObject {
  const builder = new DocumentBuilder()
    .setOpenAPIVersion('3.1.0')
    .setTitle('Auto Code Server')
    .setDescription(
      'Run autonomous coding agents headless. Every route needs `Authorization: Bearer <JWT>` (or the dashboard\'s session cookie) unless it says otherwise; ' +
        'errors are application/problem+json with a stable `code`. Any request may also be refused before it reaches a route: ' +
        '400 `bad_request` (not valid HTTP, or a URL that does not decode), 404 `not_found` (no such route), 408 `request_timeout`, ' +
        '413 `payload_too_large`, 414 `uri_too_long`, 431 `headers_too_large` (request line and headers over 16 KiB), ' +
        '503 `shutting_down`. No string of a request may hold a control character but tab, LF and CR in multi-line text; ' +
        'JSON bodies nest at most 32 levels. Every answer carries `X-Request-Id`.',
    )
    .setVersion(VERSION)
    .setContact('Auto Code Server', 'https://autocode.dev', '')
    .addServer('/', 'The server that serves this document')
    .addBearerAuth({ type: 'http', scheme: 'bearer', bearerFormat: 'JWT', description: 'A JWT: `sub` is the user id, `role: admin` makes an admin' })
    .addCookieAuth(SESSION_COOKIE, {
      type: 'apiKey',
      in: 'cookie',
      name: SESSION_COOKIE,
      description: "The dashboard's session (`POST /api/v1/session`); requests other than GET, HEAD and OPTIONS also need its CSRF token in `X-CSRF-Token`",
    }, 'session')
    .addSecurityRequirements('bearer')
    .addSecurityRequirements('session');
  for (const tag of TAGS) builder.addTag(tag.name, tag.description);
  const config = builder.build();
  config.info.license = { name: 'MIT', identifier: 'MIT' } as OpenAPIObject['info']['license'];
  config.info.contact = { name: 'Auto Code Server', url: 'https://autocode.dev' };

  const document = SwaggerModule.createDocument(app, config, {
    operationIdFactory: (controller, method) => `${controller.replace(/Controller$/, '')}_${method}`,
    extraModels: [ProblemDocument],
  });
  const schemas = document.components!.schemas as Record<string, SchemaObject>;
  Object.assign(schemas, runEventSchemas());
  document.components!.headers = HEADERS;

  for (const { method, operation } of operationsOf(document)) {
    const isPublic = PUBLIC_OPERATION_EXTENSION in operation;
    const throttled = !(UNTHROTTLED_OPERATION_EXTENSION in operation);
    delete operation[PUBLIC_OPERATION_EXTENSION];
    delete operation[UNTHROTTLED_OPERATION_EXTENSION];
    if (isPublic) {
      // A public route that also reads a token when given one (ApiBearerAuth) lists both.
      operation.security = operation.security?.length ? [{}, ...operation.security] : [];
    } else {
      // What the global guards answer on every protected route: no or a bad token, too many requests,
      // and on unsafe methods signed in by the session cookie, a missing CSRF token.
      addProblemResponses(operation.responses, ['unauthorized', 'rate_limited', ...(SAFE_METHODS.has(method.toUpperCase()) ? [] : (['csrf_failed'] as const))]);
    }
    // What the HTTP server refuses on any route before it reaches it (the others, such as 400 `bad_request`, are in the document's description).
    addProblemResponses(operation.responses, ['uri_too_long', 'headers_too_large']);
    for (const parameter of (operation.parameters ?? []) as ParameterObject[]) {
      const schema = parameter.schema as SchemaObject | undefined;
      if (schema && typeIncludes(schema, 'number')) withType(schema, 'number', 'integer');
    }
    for (const [status, response] of Object.entries(operation.responses) as [string, ResponseObject][]) {
      const headers: Record<string, HeaderObject | ReferenceObject> = {
        'X-Request-Id': headerRef(status === '400' || status === '431' ? 'RequestIdUnlessUnparsed' : 'RequestId'),
      };
      if (throttled && status !== '401') {
        Object.assign(headers, { 'X-RateLimit-Limit': headerRef('RateLimitLimit'), 'X-RateLimit-Remaining': headerRef('RateLimitRemaining'), 'X-RateLimit-Reset': headerRef('RateLimitReset') });
      }
      if (status === '429' || status === '503') headers['Retry-After'] = headerRef('RetryAfter');
      const replayable = operation.parameters?.some((parameter) => !isReference(parameter) && parameter.name === 'Idempotency-Key');
      if (replayable && status.startsWith('2')) headers['Idempotent-Replayed'] = headerRef('IdempotentReplayed');
      response.headers = { ...headers, ...response.headers };
      if (response.headers['Retry-After']) response.headers['Retry-After'] = headerRef('RetryAfter');
    }
  }

  for (const [name, schema] of Object.entries(schemas)) refineMembers(name, schema);
  // (Without the build's swagger plugin, as in the tests that run the sources, some schemas are missing.)
  for (const [name, example] of Object.entries(SCHEMA_EXAMPLES)) if (schemas[name]) schemas[name].example = example;
  walkSchemas(document.components, toJsonSchema2020);
  walkSchemas(document.paths, toJsonSchema2020);
  return document;
}

/** Serves the document at /api/openapi.json and Swagger UI at /api/docs, both public. */
export function serveOpenApi(app: INestApplication): void {
  SwaggerModule.setup('api/docs', app, () => buildOpenApiDocument(app), { jsonDocumentUrl: 'api/openapi.json', raw: ['json'] });
}
