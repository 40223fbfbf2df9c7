import { Body, Controller, Delete, Get, HttpCode, Post, Req, Res } from '@nestjs/common';
import { ApiNoContentResponse, ApiOkResponse, ApiTags } from '@nestjs/swagger';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { Public } from '../auth/auth.decorators.js';
import { clearedSessionCookie, CSRF_HEADER, readCookie, SESSION_COOKIE, sessionCookie } from '../auth/session-cookie.js';
import { SessionsService, type SessionInfo } from '../auth/sessions.service.js';
import { InvalidTokenError, TokenService } from '../auth/token.service.js';
import { UsersService } from '../auth/users.service.js';
import { ApiProblems, BODY_PROBLEMS } from '../common/api-problems.js';
import { ProblemError } from '../common/problem.js';
import { RedeemLoginLinkDto, SignInDto } from './dto/sign-in.dto.js';
import { SessionView } from './session.view.js';

const view = (session: SessionInfo): SessionView => ({
  userId: session.user.id,
  role: session.user.role,
  expiresAt: session.expiresAt.toISOString(),
  csrfToken: session.csrfToken,
});

/**
 * The dashboard's sign-in: a token (or a one-time link) is exchanged for an HttpOnly,
 * SameSite=Strict session cookie, so the token never sits where page scripts can read it.
 */
@ApiTags('Session')
@Public()
@Controller('api/v1/session')
export class SessionController {
  constructor(
    private readonly tokens: TokenService,
    private readonly sessions: SessionsService,
    private readonly users: UsersService,
  ) {}

  /**
   * Sign in with a token
   *
   * @remarks Opens a browser session for the token's user, until the token expires: the answer sets the `autocode_session` cookie (HttpOnly, SameSite=Strict) and carries the CSRF token to send in `X-CSRF-Token` on unsafe requests.
   */
  @Post()
  @HttpCode(200)
  @ApiOkResponse({ type: SessionView, description: 'Signed in; the answer sets the session cookie' })
  @ApiProblems(...BODY_PROBLEMS, 'unauthorized')
  async signIn(@Body() body: SignInDto, @Req() request: FastifyRequest, @Res({ passthrough: true }) reply: FastifyReply): Promise<SessionView> {
    let verified: Awaited<ReturnType<TokenService['verifyWithExpiry']>>;
    try {
      verified = await this.tokens.verifyWithExpiry(body.token);
    } catch (error) {
      if (error instanceof InvalidTokenError) throw new ProblemError('unauthorized', 'the token is invalid, expired or not yet valid');
      throw error;
    }
    await this.users.ensure(verified.user);
    const { id, session } = await this.sessions.open(verified.user, verified.expiresAt);
    void reply.header('set-cookie', sessionCookie(id, session.expiresAt, request.protocol === 'https'));
    return view(session);
  }

  /**
   * Sign in with a one-time link
   *
   * @remarks Redeems the code of a link printed by `autocode token create --login-url` (valid once, for 15 minutes) for a browser session, as signing in with a token does.
   */
  @Post('login-link')
  @HttpCode(200)
  @ApiOkResponse({ type: SessionView, description: 'Signed in; the answer sets the session cookie' })
  @ApiProblems(...BODY_PROBLEMS, 'login_link_invalid')
  async redeem(@Body() body: RedeemLoginLinkDto, @Req() request: FastifyRequest, @Res({ passthrough: true }) reply: FastifyReply): Promise<SessionView> {
    const opened = await this.sessions.redeemLoginLink(body.code);
    if (!opened) throw new ProblemError('login_link_invalid', 'this sign-in link is unknown, already used or expired; ask for a new one');
    await this.users.ensure(opened.session.user);
    void reply.header('set-cookie', sessionCookie(opened.id, opened.session.expiresAt, request.protocol === 'https'));
    return view(opened.session);
  }

  /**
   * Get the session
   *
   * @remarks The session the `autocode_session` cookie belongs to, with its CSRF token; 401 when there is none or it has ended.
   */
  @Get()
  @ApiOkResponse({ type: SessionView })
  @ApiProblems('unauthorized')
  async current(@Req() request: FastifyRequest): Promise<SessionView> {
    const id = readCookie(request.headers.cookie, SESSION_COOKIE);
    const session = id ? await this.sessions.find(id) : null;
    if (!session) throw new ProblemError('unauthorized', 'not signed in');
    return view(session);
  }

  /**
   * Sign out
   *
   * @remarks Ends the cookie's session on the server and removes the cookie. With a live session, the request needs its CSRF token in `X-CSRF-Token`.
   */
  @Delete()
  @HttpCode(204)
  @ApiNoContentResponse({ description: 'Signed out (also when there was no session)' })
  @ApiProblems('csrf_failed')
  async signOut(@Req() request: FastifyRequest, @Res({ passthrough: true }) reply: FastifyReply): Promise<void> {
    const id = readCookie(request.headers.cookie, SESSION_COOKIE);
    const session = id ? await this.sessions.find(id) : null;
    if (id && session) {
      // Only the session's own pages may end it: the same check as any unsafe request it signs in.
      const given = request.headers[CSRF_HEADER];
      if (!SessionsService.csrfMatches(session, typeof given === 'string' ? given : undefined)) {
        throw new ProblemError('csrf_failed', `signing out needs the session's CSRF token in ${CSRF_HEADER}`);
      }
      await this.sessions.end(id);
    }
    void reply.header('set-cookie', clearedSessionCookie(request.protocol === 'https'));
  }
}
