import { ExecutionContext, Injectable } from '@nestjs/common';
import { ThrottlerGuard } from '@nestjs/throttler';
import type { AuthUser } from './auth.decorators.js';

/**
 * Request-rate limit: per user once the auth guard has established one, per
 * client address otherwise. Runs after the auth guard; health and metrics
 * skip it (`@SkipThrottle()`).
 */
@Injectable()
export class RateLimitGuard extends ThrottlerGuard {
  protected override async getTracker(request: Record<string, unknown>): Promise<string> {
    const user = request.user as AuthUser | undefined;
    return user ? `user:${user.id}` : `ip:${String(request.ip)}`;
  }

  /** One budget per user across every route (the default key would give each route its own). */
  protected override generateKey(_context: ExecutionContext, tracker: string, throttler: string): string {
    return `${throttler}:${tracker}`;
  }

  protected override async shouldSkip(context: ExecutionContext): Promise<boolean> {
    return context.getType() !== 'http' || (await super.shouldSkip(context));
  }
}
