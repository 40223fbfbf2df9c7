import { ArgumentsHost, Catch, ExceptionFilter, HttpException, HttpStatus, Logger } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { ProblemError, problemDocument } from './problem.js';

const HTTP_CODES: Record<number, string> = {
  400: 'validation_failed',
  401: 'unauthorized',
  403: 'forbidden',
  404: 'not_found',
  405: 'method_not_allowed',
  406: 'not_acceptable',
  413: 'payload_too_large',
  415: 'unsupported_media_type',
  429: 'rate_limited',
  503: 'shutting_down',
};

interface FastifyError {
  statusCode?: number;
  code?: string;
  message: string;
}

/**
 * Renders every error as application/problem+json. Domain errors carry their
 * own code; framework HTTP errors get the code of their status; anything else
 * is logged and answered with a generic 500 that leaks nothing.
 */
@Catch()
export class ProblemFilter implements ExceptionFilter {
  private readonly logger = new Logger('ProblemFilter');

  catch(exception: unknown, host: ArgumentsHost): void {
    const reply = host.switchToHttp().getResponse<FastifyReply>();
    if (reply.sent || reply.raw.headersSent) {
      return;
    }
    const { status, code, detail, extensions, headers } = this.describe(exception);
    if (status >= 500 && code === 'internal_error') {
      this.logger.error(exception instanceof Error ? (exception.stack ?? exception.message) : String(exception));
    }
    reply
      .status(status)
      .headers(headers)
      .type('application/problem+json')
      .send(problemDocument(status, code, detail, extensions));
  }

  private describe(exception: unknown): {
    status: number;
    code: string;
    detail: string;
    extensions: Record<string, unknown>;
    headers: Record<string, string>;
  } {
    if (exception instanceof ProblemError) {
      return {
        status: exception.status,
        code: exception.code,
        detail: exception.detail,
        extensions: exception.options.extensions ?? {},
        headers: exception.options.headers ?? {},
      };
    }
    if (exception instanceof HttpException) {
      const status = exception.getStatus();
      const body = exception.getResponse();
      const messages = typeof body === 'object' && body !== null ? (body as { message?: unknown }).message : body;
      const list = Array.isArray(messages) ? messages.map(String) : [];
      const detail = list.length > 0 ? list.join('; ') : typeof messages === 'string' ? messages : exception.message;
      return {
        status,
        code: HTTP_CODES[status] ?? (status >= 500 ? 'internal_error' : 'bad_request'),
        detail: status >= 500 ? 'The server could not complete the request.' : detail,
        extensions: list.length > 0 ? { errors: list } : {},
        headers: {},
      };
    }
    // Errors raised by Fastify itself before a handler runs (bad JSON, body too large, wrong media type).
    const fastifyError = exception as FastifyError;
    if (
      typeof fastifyError?.statusCode === 'number' &&
      fastifyError.statusCode >= 400 &&
      fastifyError.statusCode < 500
    ) {
      const status = fastifyError.statusCode;
      return {
        status,
        code: HTTP_CODES[status] ?? 'bad_request',
        detail: fastifyError.message,
        extensions: {},
        headers: {},
      };
    }
    return {
      status: HttpStatus.INTERNAL_SERVER_ERROR,
      code: 'internal_error',
      detail: 'The server could not complete the request.',
      extensions: {},
      headers: {},
    };
  }
}
