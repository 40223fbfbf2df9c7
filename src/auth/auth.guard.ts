import { CanActivate, ExecutionContext, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { PinoLogger } from 'nestjs-pino';
import { ProblemError } from '../common/problem.js';
import { bindRequestLog } from '../logging/request-logging.js';
import { IS_PUBLIC_KEY, ROLES_KEY, type AuthUser } from './auth.decorators.js';
import { bearerToken, InvalidTokenError, TokenService } from './token.service.js';
import type { UserRole } from './user.entity.js';
import { UsersService } from './users.service.js';

interface AuthenticatedRequest {
  headers: Record<string, string | string[] | undefined>;
  user?: AuthUser;
  params?: { id?: string };
  routeOptions?: { url?: string };
}

/** The global guard: every route needs a valid bearer token unless it is `@Public()`. */
@Injectable()
export class AuthGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly tokens: TokenService,
    private readonly users: UsersService,
    private readonly log: PinoLogger,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const targets = [context.getHandler(), context.getClass()];
    if (this.reflector.getAllAndOverride<boolean>(IS_PUBLIC_KEY, targets)) {
      return true;
    }
    const request = context.switchToHttp().getRequest<AuthenticatedRequest>();
    const token = bearerToken(request.headers.authorization);
    if (!token) {
      throw new ProblemError('unauthorized', 'a bearer token is required', {
        headers: { 'WWW-Authenticate': 'Bearer' },
      });
    }
    let user: AuthUser;
    try {
      user = await this.tokens.verify(token);
    } catch (error) {
      if (error instanceof InvalidTokenError) {
        throw new ProblemError('unauthorized', 'the bearer token is invalid, expired or not yet valid', {
          headers: { 'WWW-Authenticate': 'Bearer error="invalid_token"' },
        });
      }
      throw error;
    }
    await this.users.ensure(user);
    request.user = user;
    const runId = request.routeOptions?.url?.startsWith('/api/v1/runs/:id') ? request.params?.id : undefined;
    bindRequestLog(this.log, runId ? { userId: user.id, runId } : { userId: user.id });
    const roles = this.reflector.getAllAndOverride<UserRole[] | undefined>(ROLES_KEY, targets);
    if (roles && !roles.includes(user.role)) {
      throw new ProblemError('forbidden', 'this route needs one of the roles: ' + roles.join(', '));
    }
    return true;
  }
}
