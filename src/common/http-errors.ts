import type { Socket } from 'node:net';
import { STATUS_CODES } from 'node:http';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { PROBLEM_STATUS, problemDocument, type ProblemCode } from './problem.js';

/** What Node's HTTP parser reports about a request it could not read, as a problem code. */
function clientErrorCode(error: NodeJS.ErrnoException): ProblemCode {
  switch (error.code) {
    case 'HPE_HEADER_OVERFLOW':
      return 'headers_too_large';
    case 'HPE_CHUNK_EXTENSIONS_OVERFLOW':
      return 'payload_too_large';
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return 'request_timeout';
    default:
      return 'bad_request';
  }
}

const CLIENT_ERROR_DETAILS: Partial<Record<ProblemCode, string>> = {
  headers_too_large: 'the request line and headers are larger than the server accepts (16 KiB)',
  payload_too_large: 'the chunk extensions of the body are larger than the server accepts',
  request_timeout: 'the request was not received in time',
  bad_request: 'the request is not valid HTTP/1.1 (for example a header name or value with characters HTTP does not allow)',
};

/**
 * Fastify's `clientErrorHandler`: a request Node's HTTP parser refused never
 * reaches Fastify or Nest, so the answer is written to the socket here, as
 * problem+json like every other error, and the connection closed.
 */
export function answerClientError(error: NodeJS.ErrnoException, socket: Socket): void {
  // A reset connection has no one left to answer.
  if (error.code === 'ECONNRESET' || socket.destroyed) return;
  if (socket.writable) {
    const code = clientErrorCode(error);
    const status = PROBLEM_STATUS[code];
    const body = JSON.stringify(problemDocument(status, code, CLIENT_ERROR_DETAILS[code]!));
    socket.write(
      `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: application/problem+json\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  }
  socket.destroy(error);
}

/** Fastify's `frameworkErrors`: errors its router raises before Nest sees the request (a URL it cannot decode, a path segment too long). */
export function answerFrameworkError(error: FastifyError, request: FastifyRequest, reply: FastifyReply): void {
  const code: ProblemCode = error.statusCode === 414 ? 'uri_too_long' : 'bad_request';
  const status = PROBLEM_STATUS[code];
  // The onRequest hooks, which set it on every other answer, do not run for these.
  void reply.status(status).header('x-request-id', request.id).type('application/problem+json').send(problemDocument(status, code, error.message));
}

/**
 * Requests that reach a closing server (on a connection that was busy when the
 * close began) are answered 503 `shutting_down` as problem+json. Fastify's own
 * `return503OnClosing` answers them with a fixed JSON body instead, so it is off.
 */
export function refuseRequestsWhileClosing(fastify: FastifyInstance): void {
  let closing = false;
  fastify.addHook('preClose', (done) => {
    closing = true;
    done();
  });
  fastify.addHook('onRequest', (_request, reply, done) => {
    if (!closing) {
      done();
      return;
    }
    const status = PROBLEM_STATUS.shutting_down;
    void reply
      .status(status)
      .header('retry-after', '5')
      .type('application/problem+json')
      .send(problemDocument(status, 'shutting_down', 'the server is shutting down; send the request again once it is back'));
  });
}
