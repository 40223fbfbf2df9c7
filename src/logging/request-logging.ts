import type { FastifyInstance } from 'fastify';
import { PinoLogger } from 'nestjs-pino';
import type { Logger } from 'pino';

/** Health checks and metrics are polled all day: their requests get no log line. */
function isQuietPath(url: string | undefined): boolean {
  const path = url?.split('?')[0];
  return path === '/metrics' || (path?.startsWith('/health/') ?? false);
}

/**
 * The request scope of the logs, from two Fastify hooks rather than a Nest
 * middleware: every line logged while a request is handled carries its `req`
 * (id, method, path), and the user and run ids once the auth guard knows them
 * (`bindRequestLog`); when the response is done (or the client went away) one
 * line says so, with the status and the time taken. An SSE stream is logged
 * when it ends.
 *
 * This is what nestjs-pino's pino-http middleware did, at about half the cost
 * per request: no middleware layer (Fastify's middie and Nest's middleware
 * chain), and one child logger per request instead of two.
 */
export function registerRequestLogging(fastify: FastifyInstance, scope: PinoLogger): void {
  fastify.addHook('onRequest', (request, reply, done) => {
    const startedAt = performance.now();
    scope.runInContext(
      () => {
        const logger = scope.logger as Logger;
        if (!isQuietPath(request.url)) {
          const res = reply.raw;
          res.once('close', () => {
            // `res` goes through the logger's serializer, which keeps its status code alone.
            const line = { res, responseTime: Math.round(performance.now() - startedAt) };
            if (!res.writableFinished) logger.info(line, 'request aborted');
            else if (res.statusCode >= 500) logger.error(line, 'request errored');
            else logger.info(line, 'request completed');
          });
        }
        done();
      },
      { bindings: { req: { id: request.id, method: request.method, url: request.url } } },
    );
  });
}

/**
 * Adds fields (the user and run ids) to every later line of the current
 * request, its closing line included. Outside a request it does nothing.
 */
export function bindRequestLog(scope: PinoLogger, fields: Record<string, string>): void {
  const logger = scope.logger;
  if (logger !== PinoLogger.root) logger.setBindings(fields);
}
