import { HttpStatus } from '@nestjs/common';
import type { ProblemDocument } from './problem.view.js';

/**
 * The stable error codes of the API. A client switches on `code`, so a code is
 * never renamed; the HTTP status for each one lives here and nowhere else.
 */
export const PROBLEM_STATUS = {
  validation_failed: HttpStatus.BAD_REQUEST,
  // The request could not be read as HTTP, or its URL could not be decoded.
  bad_request: HttpStatus.BAD_REQUEST,
  unknown_agent: HttpStatus.BAD_REQUEST,
  timeout_exceeds_quota: HttpStatus.BAD_REQUEST,
  budget_exceeds_quota: HttpStatus.BAD_REQUEST,
  unauthorized: HttpStatus.UNAUTHORIZED,
  forbidden: HttpStatus.FORBIDDEN,
  // A request signed in with the dashboard's session cookie, unsafe, without the session's CSRF token.
  csrf_failed: HttpStatus.FORBIDDEN,
  login_link_invalid: HttpStatus.BAD_REQUEST,
  not_found: HttpStatus.NOT_FOUND,
  run_not_found: HttpStatus.NOT_FOUND,
  run_finished: HttpStatus.CONFLICT,
  run_conflict: HttpStatus.CONFLICT,
  // A message to a run whose agent cannot take it (a `command` profile without `resumeCommand`).
  follow_up_unsupported: HttpStatus.CONFLICT,
  diff_not_found: HttpStatus.NOT_FOUND,
  workspace_not_found: HttpStatus.NOT_FOUND,
  workspace_exists: HttpStatus.CONFLICT,
  workspace_busy: HttpStatus.CONFLICT,
  repo_url_not_allowed: HttpStatus.BAD_REQUEST,
  clone_failed: HttpStatus.UNPROCESSABLE_ENTITY,
  idempotency_key_reused: HttpStatus.UNPROCESSABLE_ENTITY,
  webhook_not_found: HttpStatus.NOT_FOUND,
  webhook_delivery_not_found: HttpStatus.NOT_FOUND,
  webhook_url_not_allowed: HttpStatus.BAD_REQUEST,
  spec_not_found: HttpStatus.NOT_FOUND,
  // A tool call waiting for a decision (a profile's `approvals`).
  approval_not_found: HttpStatus.NOT_FOUND,
  approval_closed: HttpStatus.CONFLICT,
  // Pushing a run's branch and opening its pull request.
  run_active: HttpStatus.CONFLICT,
  nothing_to_push: HttpStatus.CONFLICT,
  no_remote: HttpStatus.CONFLICT,
  forge_not_configured: HttpStatus.CONFLICT,
  pull_request_exists: HttpStatus.CONFLICT,
  credential_unreadable: HttpStatus.CONFLICT,
  push_failed: HttpStatus.BAD_GATEWAY,
  forge_request_failed: HttpStatus.BAD_GATEWAY,
  method_not_allowed: HttpStatus.METHOD_NOT_ALLOWED,
  not_acceptable: HttpStatus.NOT_ACCEPTABLE,
  request_timeout: HttpStatus.REQUEST_TIMEOUT,
  payload_too_large: HttpStatus.PAYLOAD_TOO_LARGE,
  uri_too_long: HttpStatus.URI_TOO_LONG,
  unsupported_media_type: HttpStatus.UNSUPPORTED_MEDIA_TYPE,
  daily_limit: HttpStatus.TOO_MANY_REQUESTS,
  budget_exhausted: HttpStatus.TOO_MANY_REQUESTS,
  queue_full: HttpStatus.TOO_MANY_REQUESTS,
  concurrency_limit: HttpStatus.TOO_MANY_REQUESTS,
  rate_limited: HttpStatus.TOO_MANY_REQUESTS,
  // Nest's HttpStatus has no 431.
  headers_too_large: 431,
  internal_error: HttpStatus.INTERNAL_SERVER_ERROR,
  shutting_down: HttpStatus.SERVICE_UNAVAILABLE,
} as const satisfies Record<string, HttpStatus | 431>;

export type ProblemCode = keyof typeof PROBLEM_STATUS;

export interface ProblemOptions {
  /** Extension members added to the problem document (RFC 9457 §3.2). */
  extensions?: Record<string, unknown>;
  /** Response headers, e.g. `Retry-After`. */
  headers?: Record<string, string>;
}

/**
 * A domain error that maps onto one problem+json response. Services throw it;
 * the global filter renders it.
 */
export class ProblemError extends Error {
  readonly status: number;

  constructor(
    readonly code: ProblemCode,
    readonly detail: string,
    readonly options: ProblemOptions = {},
  ) {
    super(detail);
    this.name = 'ProblemError';
    this.status = PROBLEM_STATUS[code];
  }
}

const TITLES: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  406: 'Not Acceptable',
  408: 'Request Timeout',
  409: 'Conflict',
  413: 'Payload Too Large',
  414: 'URI Too Long',
  415: 'Unsupported Media Type',
  422: 'Unprocessable Content',
  429: 'Too Many Requests',
  431: 'Request Header Fields Too Large',
  500: 'Internal Server Error',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
};

/** The `title` of a problem with this status. */
export function problemTitle(status: number): string {
  return TITLES[status] ?? 'Error';
}

export function problemDocument(
  status: number,
  code: string,
  detail: string,
  extensions: Record<string, unknown> = {},
): ProblemDocument {
  return {
    ...extensions,
    type: `https://autocode.dev/problems/${code.replace(/_/g, '-')}`,
    title: problemTitle(status),
    status,
    detail,
    code,
  };
}
