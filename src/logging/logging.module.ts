import { DynamicModule, Module } from '@nestjs/common';
import { LoggerModule } from 'nestjs-pino';
import pino from 'pino';
import type { AppConfig } from '../config/configuration.js';
import { openLogDestination, type LogDestination } from './log-destination.js';
import { makeScrubber } from './redaction.js';

export const LOG_DESTINATION = Symbol('LOG_DESTINATION');

/**
 * One logger for the server and the CLI: nestjs-pino, JSON lines with ISO
 * timestamps, the request id on every line of a request (Fastify's, taken
 * from `X-Request-Id` or made, see `createApp`), the user and run ids where
 * known (see request-logging.ts), no headers, tokens or secrets, and no
 * request logs for health and metrics. JSON escapes control characters, so
 * user input cannot forge a line.
 */
@Module({})
export class LoggingModule {
  static forRoot(config: AppConfig, target: 'server' | 'cli'): DynamicModule {
    const destination = openLogDestination(config, target);
    const scrub = makeScrubber(config.secrets);
    return {
      module: LoggingModule,
      global: true,
      imports: [
        LoggerModule.forRoot({
          pinoHttp: [
            {
              level: config.log.level,
              timestamp: pino.stdTimeFunctions.isoTime,
              base: { pid: process.pid, node: config.node },
              formatters: { level: (label: string) => ({ level: label }) },
              // One pass over each finished line: secrets are caught wherever they ended up in it.
              hooks: { streamWrite: scrub },
              redact: { paths: ['req.headers', 'res.headers', '*.authorization', '*.token', '*.password', '*.secret'], censor: '[redacted]' },
              serializers: {
                req: (request: { id: string; method: string; url: string }) => ({ id: request.id, method: request.method, url: request.url.split('?')[0] ?? '' }),
                res: (response: { statusCode: number }) => ({ statusCode: response.statusCode }),
              },
            },
            destination.stream,
          ],
          // No middleware: the request scope and the request lines come from Fastify hooks (request-logging.ts).
          forRoutes: [],
        }),
      ],
      providers: [{ provide: LOG_DESTINATION, useValue: destination satisfies LogDestination }],
      exports: [LOG_DESTINATION],
    };
  }
}
