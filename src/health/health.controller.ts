import { Controller, Get, HttpStatus, Res } from '@nestjs/common';
import { SkipThrottle } from '@nestjs/throttler';
import type { FastifyReply } from 'fastify';
import { DispatcherService } from '../agents/dispatcher.service.js';
import { Public } from '../auth/auth.decorators.js';
import { DatabaseService } from '../database/database.service.js';

const PROBE_TIMEOUT_MS = 2_000;

function withTimeout<T>(work: Promise<T>, ms: number): Promise<T> {
  return Promise.race([work, new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms).unref())]);
}

/** Liveness and readiness; the detailed report and Terminus indicators build on this. */
@Public()
@SkipThrottle()
@Controller('health')
export class HealthController {
  constructor(
    private readonly database: DatabaseService,
    private readonly dispatcher: DispatcherService,
  ) {}

  @Get('live')
  live(): { status: 'ok' } {
    return { status: 'ok' };
  }

  @Get('ready')
  async ready(@Res() reply: FastifyReply): Promise<void> {
    const info: Record<string, { status: 'up' | 'down'; message?: string }> = {};
    try {
      await withTimeout(this.database.ping(), PROBE_TIMEOUT_MS);
      info.database = { status: 'up' };
    } catch (error) {
      info.database = { status: 'down', message: (error as Error).message };
    }
    info.draining = this.dispatcher.isDraining ? { status: 'down', message: 'the server is shutting down' } : { status: 'up' };
    const down = Object.entries(info).filter(([, state]) => state.status === 'down');
    const ok = down.length === 0;
    await reply.status(ok ? HttpStatus.OK : HttpStatus.SERVICE_UNAVAILABLE).send({
      status: ok ? 'ok' : 'error',
      info: Object.fromEntries(Object.entries(info).filter(([, s]) => s.status === 'up')),
      error: Object.fromEntries(down),
      details: info,
    });
  }
}
