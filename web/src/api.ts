import { AutocodeError, createClient, type AutocodeClient, type components } from '@autocode/client';

export type Session = components['schemas']['SessionView'];

const baseUrl = window.location.origin;

/** Requests before sign-in (sign-in itself, the session lookup): the session cookie goes along as for any same-origin request. */
export const anonymousClient: AutocodeClient = createClient({ baseUrl });

/**
 * The client of a signed-in page: the browser sends the HttpOnly session cookie, and every request
 * carries the session's CSRF token, which the server checks on unsafe methods.
 */
export function sessionClient(session: Session): AutocodeClient {
  return createClient({ baseUrl, headers: { 'X-CSRF-Token': session.csrfToken } });
}

/** The answer's data, or the AutocodeError its problem+json describes. */
export function unwrap<T>(answer: { data?: T; error?: unknown; response: Response }): T {
  if (!answer.response.ok) throw AutocodeError.fromResponse(answer.response, answer.error);
  return answer.data as T;
}

/** What to tell a person about a failed request: the problem's `detail`, else the error's message. */
export function describeError(error: unknown): string {
  if (error instanceof AutocodeError) return error.detail;
  return error instanceof Error ? error.message : String(error);
}

export { AutocodeError };
