import { Module } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { ConfigService } from '@nestjs/config';
import { JwtModule } from '@nestjs/jwt';
import { ThrottlerModule } from '@nestjs/throttler';
import { TypeOrmModule } from '@nestjs/typeorm';
import type { AppConfig } from '../config/configuration.js';
import { AuthGuard } from './auth.guard.js';
import { RateLimitGuard } from './rate-limit.guard.js';
import { LoginLink, Session } from './session.entity.js';
import { RequestAuthenticator } from './request-authenticator.js';
import { SessionsService } from './sessions.service.js';
import { TokenService } from './token.service.js';
import { User } from './user.entity.js';
import { UsersService } from './users.service.js';

@Module({
  imports: [JwtModule.register({}), TypeOrmModule.forFeature([User, Session, LoginLink])],
  providers: [TokenService, UsersService, SessionsService, RequestAuthenticator],
  exports: [TokenService, UsersService, SessionsService, RequestAuthenticator],
})
export class AuthModule {}

/**
 * The global guards, registered only where HTTP is served (the CLI has no
 * requests to guard), in this order: authentication, then the rate limit.
 */
@Module({
  imports: [
    AuthModule,
    ThrottlerModule.forRootAsync({
      inject: [ConfigService],
      useFactory: (config: ConfigService<AppConfig, true>) => {
        const perMinute = config.get('rateLimit.perMinute', { infer: true });
        return {
          throttlers: [{ name: 'default', ttl: 60_000, limit: perMinute }],
          skipIf: () => perMinute === 0,
        };
      },
    }),
  ],
  providers: [
    { provide: APP_GUARD, useClass: AuthGuard },
    { provide: APP_GUARD, useClass: RateLimitGuard },
  ],
})
export class HttpAuthModule {}
