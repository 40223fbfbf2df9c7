import { DynamicModule, Module, type LoggerService } from '@nestjs/common';
import { Logger, LoggerModule, PinoLogger, type Params } from 'nestjs-pino';
import pino from 'pino';
import type { AppConfig } from '../config/configuration.js';
import { openLogDestination, type LogDestination } from './log-destination.js';
import { makeScrubber } from './redaction.js';

export const LOG_DESTINATION = Symbol('LOG_DESTINATION');

/** Nest's own progress lines, one per module, controller and route at every start: detail, not news. */
const FRAMEWORK_DETAIL = new Set(['NestFactory', 'InstanceLoader', 'RoutesResolver', 'RouterExplorer', 'NestApplication']);

/** The Nest logger over pino, with Nest's start-up detail at debug rather than info. */
export class NestLogger extends Logger {
  override log(message: unknown, ...optionalParams: unknown[]): void {
    // Nest passes the context (the class logging) last.
    const context = optionalParams.at(-1);
    if (typeof context === 'string' && FRAMEWORK_DETAIL.has(context)) this.debug(message, ...optionalParams);
    else super.log(message, ...optionalParams);
  }
}

let latest: NestLogger | undefined;

/**
 * The Nest logger of the last `LoggingModule.forRoot`, for `NestFactory.create`:
 * what Nest logs while the application is still being built (module loading,
 * the database's connection attempts) then goes through the same JSON log,
 * also when the build fails, instead of Nest's coloured console logger.
 */
export function bootstrapLogger(): LoggerService {
  if (!latest) throw new Error('LoggingModule.forRoot has not been called');
  return latest;
}

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
    const params: Params = {
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
    };
    // Made now rather than when Nest reaches this module, so that it is there for `bootstrapLogger`.
    latest = new NestLogger(new PinoLogger(params), params);
    return {
      module: LoggingModule,
      global: true,
      imports: [LoggerModule.forRoot(params)],
      providers: [
        { provide: LOG_DESTINATION, useValue: destination satisfies LogDestination },
        { provide: NestLogger, useValue: latest },
      ],
      exports: [LOG_DESTINATION, NestLogger],
    };
  }
}
