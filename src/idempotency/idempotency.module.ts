import { Module } from '@nestjs/common';
import { IdempotencyService } from './idempotency.service.js';

/** `Idempotency-Key` support for the routes that create things (runs, workspaces). */
@Module({ providers: [IdempotencyService], exports: [IdempotencyService] })
export class IdempotencyModule {}
