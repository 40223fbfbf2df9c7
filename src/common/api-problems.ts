import { applyDecorators } from '@nestjs/common';
import { ApiExtraModels, ApiResponse, getSchemaPath, type ResponseObject, type ResponsesObject } from '@nestjs/swagger';
import { PROBLEM_STATUS, problemTitle, type ProblemCode } from './problem.js';
import { ProblemDocument } from './problem.view.js';

const PROBLEM_MEDIA_TYPE = 'application/problem+json';

/** What a route taking a JSON body answers about the body itself: invalid, too large, or not JSON. */
export const BODY_PROBLEMS = ['validation_failed', 'payload_too_large', 'unsupported_media_type'] as const satisfies readonly ProblemCode[];

/** Statuses whose problems come with a `Retry-After` header. */
const RETRY_AFTER_STATUSES: ReadonlySet<number> = new Set([429, 503]);

/** The codes, grouped by their HTTP status, each group in the order given. */
function byStatus(codes: readonly ProblemCode[]): Map<number, ProblemCode[]> {
  const groups = new Map<number, ProblemCode[]>();
  for (const code of codes) {
    const group = groups.get(PROBLEM_STATUS[code]) ?? [];
    if (!group.includes(code)) group.push(code);
    groups.set(PROBLEM_STATUS[code], group);
  }
  return groups;
}

/** The response of one status: a ProblemDocument whose `code` is one of `codes`. */
function problemResponse(status: number, codes: readonly ProblemCode[]): ResponseObject {
  return {
    description: `${problemTitle(status)}: ${codes.map((code) => `\`${code}\``).join(', ')}`,
    ...(RETRY_AFTER_STATUSES.has(status)
      ? { headers: { 'Retry-After': { description: 'Seconds to wait before trying again', schema: { type: 'integer' } } } }
      : {}),
    content: {
      [PROBLEM_MEDIA_TYPE]: {
        schema: {
          allOf: [{ $ref: getSchemaPath(ProblemDocument) }, { type: 'object', properties: { code: { type: 'string', enum: [...codes] } } }],
        },
      },
    },
  };
}

/** The codes a problem response of the document already lists. */
function documentedCodes(response: ResponseObject | undefined): ProblemCode[] {
  const schema = response?.content?.[PROBLEM_MEDIA_TYPE]?.schema as { allOf?: { properties?: { code?: { enum?: ProblemCode[] } } }[] } | undefined;
  return schema?.allOf?.[1]?.properties?.code?.enum ?? [];
}

/**
 * Documents the error responses of a route: for each HTTP status among the
 * codes, an `application/problem+json` response whose `code` is one of them.
 * Every protected route also answers `unauthorized` and `rate_limited`;
 * `buildOpenApiDocument` adds those (see `addProblemResponses`).
 */
export const ApiProblems = (...codes: ProblemCode[]): MethodDecorator & ClassDecorator =>
  applyDecorators(
    ApiExtraModels(ProblemDocument),
    ...[...byStatus(codes)].map(([status, group]) => ApiResponse({ status, ...problemResponse(status, group) })),
  );

/** Adds problem responses to an operation of a built document, merging the codes with those it already lists. */
export function addProblemResponses(responses: ResponsesObject, codes: readonly ProblemCode[]): void {
  for (const [status, group] of byStatus(codes)) {
    const existing = responses[status] as ResponseObject | undefined;
    responses[status] = problemResponse(status, [...new Set([...documentedCodes(existing), ...group])]);
  }
}
