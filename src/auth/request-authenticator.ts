import { Injectable } from '@nestjs/common';
import { ProblemError } from '../common/problem.js';
import type { AuthUser } from './auth.decorators.js';
import { CSRF_HEADER, readCookie, SAFE_METHODS, SESSION_COOKIE } from './session-cookie.js';
import { SessionsService } from './sessions.service.js';
import { bearerToken, InvalidTokenError, TokenService } from './token.service.js';

export interface CredentialedRequest {
  method: string;
  headers: Record<string, string | string[] | undefined>;
}

/**
 * Who a request is from: a bearer token (API clients, the CLI) or, without one, the dashboard's
 * session cookie. A cookie is sent by the browser on its own, so an unsafe request signed in by
 * it must also carry the session's CSRF token in `X-CSRF-Token`, which only pages of this origin
 * can read (from `GET /api/v1/session`).
 */
@Injectable()
export class RequestAuthenticator {
  constructor(
    private readonly tokens: TokenService,
    private readonly sessions: SessionsService,
  ) {}

  /** The caller, or a ProblemError: 401 `unauthorized` (no or bad credentials), 403 `csrf_failed`. */
  async authenticate(request: CredentialedRequest): Promise<AuthUser> {
    const authorization = request.headers.authorization;
    const token = bearerToken(authorization);
    if (token) {
      try {
        return await this.tokens.verify(token);
      } catch (error) {
        if (error instanceof InvalidTokenError) {
          throw new ProblemError('unauthorized', 'the bearer token is invalid, expired or not yet valid', {
            headers: { 'WWW-Authenticate': 'Bearer error="invalid_token"' },
          });
        }
        throw error;
      }
    }
    const sessionId = authorization === undefined ? readCookie(request.headers.cookie, SESSION_COOKIE) : undefined;
    const session = sessionId ? await this.sessions.find(sessionId) : null;
    if (!session) {
      throw new ProblemError('unauthorized', sessionId ? 'the session has ended; sign in again' : 'a bearer token is required', {
        headers: { 'WWW-Authenticate': 'Bearer' },
      });
    }
    if (!SAFE_METHODS.has(request.method.toUpperCase())) {
      const given = request.headers[CSRF_HEADER];
      if (!SessionsService.csrfMatches(session, typeof given === 'string' ? given : undefined)) {
        throw new ProblemError('csrf_failed', `a request signed in by the session cookie needs the session's CSRF token in ${CSRF_HEADER}`);
      }
    }
    return session.user;
  }
}
