import { Module } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { JwtModule } from '@nestjs/jwt';
import { TypeOrmModule } from '@nestjs/typeorm';
import { AuthGuard } from './auth.guard.js';
import { TokenService } from './token.service.js';
import { User } from './user.entity.js';
import { UsersService } from './users.service.js';

@Module({
  imports: [JwtModule.register({}), TypeOrmModule.forFeature([User])],
  providers: [TokenService, UsersService],
  exports: [TokenService, UsersService],
})
export class AuthModule {}

/** The global guard, registered only where HTTP is served (the CLI has no requests to guard). */
@Module({
  imports: [AuthModule],
  providers: [{ provide: APP_GUARD, useClass: AuthGuard }],
})
export class HttpAuthModule {}
