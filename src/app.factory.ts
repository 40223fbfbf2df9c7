import { NestFactory } from '@nestjs/core';
import { PinoLogger } from 'nestjs-pino';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { AppModule, servesDashboard, type AppOptions } from './app.module.js';
import { answerClientError, answerFrameworkError, refuseRequestsWhileClosing } from './common/http-errors.js';
import { useDepthLimitedJsonParser } from './common/json-body.js';
import type { AppConfig } from './config/configuration.js';
import { DatabaseService } from './database/database.service.js';
import { bootstrapLogger, NestLogger } from './logging/logging.module.js';
import { registerRequestLogging } from './logging/request-logging.js';
import { serveDashboard } from './dashboard/serve-dashboard.js';
import { serveOpenApi } from './openapi.js';

/** Largest request body accepted (a prompt of 100,000 bytes fits with room to spare, even escaped). */
const BODY_LIMIT_BYTES = 1024 * 1024;

const MAX_PARAM_LENGTH = 2048;
const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/**
 * Builds the HTTP application: Fastify, migrations applied, initialized. The
 * caller listens and owns the process signals (see `startServer`).
 */
export async function createApp(config: AppConfig, options: AppOptions = {}): Promise<NestFastifyApplication> {
  const adapter = new FastifyAdapter({
    bodyLimit: BODY_LIMIT_BYTES,
    return503OnClosing: false,
    // Room for a percent-encoded 128-character user id in a path.
    routerOptions: { maxParamLength: MAX_PARAM_LENGTH },
    // The request id of every log line of a request: the client's X-Request-Id when it is a sane token.
    requestIdHeader: false,
    genReqId: (request: IncomingMessage) => {
      const given = request.headers['x-request-id'];
      return typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
    },
    // Errors raised before Nest sees the request (by Node's HTTP parser, by the router) still answer problem+json.
    clientErrorHandler: answerClientError,
    frameworkErrors: answerFrameworkError,
  });
  // JSON in: Fastify's own JSON parser only, behind a depth check. Without Nest's extra parsers and Fastify's text/plain one,
  // any other media type is refused with 415 instead of reaching validation as a string or a form.
  adapter.getInstance().removeContentTypeParser('text/plain');
  useDepthLimitedJsonParser(adapter.getInstance());
  refuseRequestsWhileClosing(adapter.getInstance());
  adapter.getInstance().addHook('onRequest', (request, reply, done) => {
    void reply.header('x-request-id', request.id);
    done();
  });
  const module = AppModule.forRoot(config, options);
  // The JSON logger from the first line on (not buffered behind Nest's console logger), so that
  // what happens before the application exists, such as the database's connection attempts, is
  // logged as it happens and in the same form.
  const app = await NestFactory.create<NestFastifyApplication>(module, adapter, {
    logger: bootstrapLogger(),
    abortOnError: false,
    bodyParser: false,
  });
  app.useLogger(app.get(NestLogger));
  registerRequestLogging(adapter.getInstance(), await app.resolve(PinoLogger));
  serveOpenApi(app);
  if (servesDashboard(config) && !serveDashboard(app)) {
    app.get(NestLogger).warn('UI_ENABLED is true but the dashboard is not built (no dist/web/index.html): run `npm run build`');
  }
  await app.get(DatabaseService).runMigrations();
  await app.init();
  return app;
}
