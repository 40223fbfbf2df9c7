import type { components, paths } from './generated/schema.js';

type ProblemBodies<Operation> = Operation extends { responses: infer Responses }
  ? { [Status in keyof Responses]: Responses[Status] extends { content: { 'application/problem+json': infer Body } } ? Body : never }[keyof Responses]
  : never;

type AnyProblemBody = {
  [Path in keyof paths]: { [Method in keyof paths[Path]]-?: ProblemBodies<paths[Path][Method]> }[keyof paths[Path]];
}[keyof paths];

/** Every `code` a route of this API documents in its problem+json answers. */
export type ProblemCode = NonNullable<AnyProblemBody['code']>;

/**
 * An RFC 9457 problem document: `type`, `title`, `status`, `detail`, `code`, and the extensions some
 * codes carry (`errors` for `validation_failed`, `limit`/`used`/`resetsAt` for the quota codes,
 * `runStatus` for `run_finished`, …).
 */
export type Problem = components['schemas']['ProblemDocument'] & { [extension: string]: unknown };

/** The `code` of an answer that was not a problem document (a proxy's error page, say). */
export const UNEXPECTED_RESPONSE = 'unexpected_response';

/**
 * A request the server refused, with what its problem+json answer said. Switch on `code`: the
 * codes each route can answer are listed in openapi.json, and `ProblemCode` is their union.
 */
export class AutocodeError extends Error {
  override readonly name = 'AutocodeError';
  /** The HTTP status. */
  readonly status: number;
  /** The stable snake_case code, e.g. `run_not_found`; `unexpected_response` when the answer was not a problem document. */
  readonly code: ProblemCode | typeof UNEXPECTED_RESPONSE | (string & {});
  readonly detail: string;
  /** Seconds to wait before trying again, from `Retry-After` (429, 503); null when the answer had none. */
  readonly retryAfter: number | null;
  /** The whole problem document, extensions included. */
  readonly problem: Problem;

  constructor(problem: Problem, retryAfter: number | null = null) {
    super(`${problem.status} ${problem.code}: ${problem.detail}`);
    this.status = problem.status;
    this.code = problem.code;
    this.detail = problem.detail;
    this.retryAfter = retryAfter;
    this.problem = problem;
  }

  /** The error for a refused request, from its response and its body (parsed JSON or text), as openapi-fetch hands them over. */
  static fromResponse(response: Response, body: unknown): AutocodeError {
    const retryAfter = parseRetryAfter(response.headers.get('retry-after'));
    if (isProblem(body)) return new AutocodeError({ ...body, status: response.status }, retryAfter);
    const text = typeof body === 'string' ? body : body === undefined ? '' : JSON.stringify(body);
    return new AutocodeError(
      {
        type: 'about:blank',
        title: response.statusText,
        status: response.status,
        detail: text.slice(0, 500) || `HTTP ${response.status} without a problem document`,
        code: UNEXPECTED_RESPONSE,
      },
      retryAfter,
    );
  }

  /** The error for a response whose body has not been read yet. */
  static async read(response: Response): Promise<AutocodeError> {
    const text = await response.text().catch(() => '');
    let body: unknown = text;
    try {
      body = JSON.parse(text);
    } catch {
      // Not JSON: kept as text.
    }
    return AutocodeError.fromResponse(response, body);
  }
}

function isProblem(body: unknown): body is Problem {
  if (body === null || typeof body !== 'object') return false;
  const fields = body as Record<string, unknown>;
  return typeof fields.code === 'string' && typeof fields.detail === 'string' && typeof fields.title === 'string' && typeof fields.type === 'string';
}

/** `Retry-After` in seconds: either delay-seconds or an HTTP date (RFC 9110). */
export function parseRetryAfter(value: string | null, now = Date.now()): number | null {
  if (value === null || value.trim() === '') return null;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed);
  const at = Date.parse(trimmed);
  return Number.isNaN(at) ? null : Math.max(0, Math.ceil((at - now) / 1000));
}
