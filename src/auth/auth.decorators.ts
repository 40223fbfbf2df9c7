import { applyDecorators, createParamDecorator, ExecutionContext, SetMetadata } from '@nestjs/common';
import { ApiExtension } from '@nestjs/swagger';
import { SkipThrottle } from '@nestjs/throttler';
import { ApiProblems } from '../common/api-problems.js';
import type { UserRole } from './user.entity.js';

export const IS_PUBLIC_KEY = 'autocode:isPublic';
export const ROLES_KEY = 'autocode:roles';

/** Marks public operations in the OpenAPI document; `buildOpenApiDocument` turns it into `security: []`. */
export const PUBLIC_OPERATION_EXTENSION = 'x-autocode-public';

/**
 * Marks a route or controller as reachable without a token, for the guard and
 * in the OpenAPI document alike. Everything else is denied by default.
 */
export const Public = (): MethodDecorator & ClassDecorator =>
  applyDecorators(SetMetadata(IS_PUBLIC_KEY, true), ApiExtension(PUBLIC_OPERATION_EXTENSION, true));

/** Marks operations the rate limit skips in the OpenAPI document; `buildOpenApiDocument` then documents no rate-limit headers. */
export const UNTHROTTLED_OPERATION_EXTENSION = 'x-autocode-unthrottled';

/** Keeps a route or controller out of the request-rate limit, for the guard and in the OpenAPI document alike. */
export const Unthrottled = (): MethodDecorator & ClassDecorator =>
  applyDecorators(SkipThrottle(), ApiExtension(UNTHROTTLED_OPERATION_EXTENSION, true));

/** Restricts a route or controller to the given roles: the others get 403 `forbidden`, in the guard and in the OpenAPI document alike. */
export const Roles = (...roles: UserRole[]): MethodDecorator & ClassDecorator =>
  applyDecorators(SetMetadata(ROLES_KEY, roles), ApiProblems('forbidden'));

/** The authenticated caller, as the guard established it. */
export interface AuthUser {
  id: string;
  role: UserRole;
}

export const CurrentUser = createParamDecorator((_data: unknown, context: ExecutionContext): AuthUser => {
  const request = context.switchToHttp().getRequest<{ user?: AuthUser }>();
  if (!request.user) {
    throw new Error('CurrentUser used on a route without authentication');
  }
  return request.user;
});
