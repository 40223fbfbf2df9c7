import { CanActivate, ExecutionContext, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { PinoLogger } from 'nestjs-pino';
import { ProblemError } from '../common/problem.js';
import { bindRequestLog } from '../logging/request-logging.js';
import { IS_PUBLIC_KEY, ROLES_KEY, type AuthUser } from './auth.decorators.js';
import { RequestAuthenticator, type CredentialedRequest } from './request-authenticator.js';
import type { UserRole } from './user.entity.js';
import { UsersService } from './users.service.js';

interface AuthenticatedRequest extends CredentialedRequest {
  user?: AuthUser;
  params?: { id?: string };
  routeOptions?: { url?: string };
}

/** The global guard: every route needs a valid bearer token (or dashboard session) unless it is `@Public()`. */
@Injectable()
export class AuthGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly authenticator: RequestAuthenticator,
    private readonly users: UsersService,
    private readonly log: PinoLogger,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const targets = [context.getHandler(), context.getClass()];
    if (this.reflector.getAllAndOverride<boolean>(IS_PUBLIC_KEY, targets)) {
      return true;
    }
    const request = context.switchToHttp().getRequest<AuthenticatedRequest>();
    const user = await this.authenticator.authenticate(request);
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
