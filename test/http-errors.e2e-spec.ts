import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, it } from '@jest/globals';
import { expect } from './jest/expect.js';
import { PROBLEM_STATUS, type ProblemCode } from '../src/common/problem.js';
import { disposeTestServer, startTestServer, waitFor, type TestServer } from './helpers/test-server.js';

// Every error the server sends is application/problem+json with a code, also those raised
// before a route runs: by Node's HTTP parser, by Fastify's router and body parsing, for a
// route that does not exist. Requests a fetch client refuses to send go over a raw socket.

interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** The whole responses at the start of `received` (interim 1xx ones left out). */
function parseResponses(received: Buffer): RawResponse[] {
  const responses: RawResponse[] = [];
  let rest = received;
  for (;;) {
    const end = rest.indexOf('\r\n\r\n');
    if (end < 0) return responses;
    const [statusLine, ...lines] = rest.subarray(0, end).toString('latin1').split('\r\n');
    const status = Number(statusLine!.split(' ')[1]);
    const headers = Object.fromEntries(lines.map((line) => [line.slice(0, line.indexOf(':')).toLowerCase(), line.slice(line.indexOf(':') + 1).trim()]));
    const length = status < 200 ? 0 : Number(headers['content-length'] ?? NaN);
    const body = rest.subarray(end + 4);
    if (Number.isNaN(length) || body.length < length) return responses;
    if (status >= 200) responses.push({ status, headers, body: body.subarray(0, length).toString('utf8') });
    rest = body.subarray(length);
  }
}

/** A raw connection to the server: what it received so far, and a wait for the first `count` responses. */
function open(server: TestServer): { socket: Socket; received: () => Buffer; responses: (count: number) => Promise<RawResponse[]> } {
  const { port } = new URL(server.url);
  const socket = connect(Number(port), '127.0.0.1');
  let received = Buffer.alloc(0);
  let closed = false;
  socket.on('data', (chunk: Buffer) => (received = Buffer.concat([received, chunk])));
  socket.on('close', () => (closed = true));
  socket.on('error', () => {});
  const responses = async (count: number): Promise<RawResponse[]> =>
    waitFor(
      () => {
        const parsed = parseResponses(received);
        if (parsed.length >= count) return parsed.slice(0, count);
        if (closed) throw new Error(`connection closed after ${parsed.length} responses: ${JSON.stringify(received.toString('latin1'))}`);
        return undefined;
      },
      15_000,
      `${count} responses`,
    );
  return { socket, received: () => received, responses };
}

/** Writes `request` as is on a new connection and reads the first response. */
async function raw(server: TestServer, request: string | Buffer): Promise<RawResponse> {
  const connection = open(server);
  connection.socket.write(request);
  try {
    return (await connection.responses(1))[0]!;
  } finally {
    connection.socket.destroy();
  }
}

function expectProblem(response: RawResponse, code: ProblemCode, what: string): void {
  expect(response.status, `${what}: ${response.status} ${response.body}`).toBe(PROBLEM_STATUS[code]);
  expect(response.headers['content-type'], `${what}: ${response.body}`).toMatch(/^application\/problem\+json/);
  const body = JSON.parse(response.body) as Record<string, unknown>;
  expect(body, what).toMatchObject({ status: PROBLEM_STATUS[code], code, type: `https://autocode.dev/problems/${code.replace(/_/g, '-')}` });
  expect(typeof body.title, what).toBe('string');
  expect(typeof body.detail, what).toBe('string');
  expect(Object.keys(body), what).not.toContain('statusCode');
}

describe('errors raised before a route runs', () => {
  let server: TestServer;
  let host: string;

  beforeAll(async () => {
    server = await startTestServer();
    host = new URL(server.url).host;
  });
  afterAll(async () => disposeTestServer(server));

  const get = (path: string, headers = ''): string => `GET ${path} HTTP/1.1\r\nHost: ${host}\r\n${headers}Connection: close\r\n\r\n`;

  it('answers headers over 16 KiB with 431 headers_too_large', async () => {
    expectProblem(await raw(server, get('/api/v1/runs', `Authorization: Bearer ${'a'.repeat(17 * 1024)}\r\n`)), 'headers_too_large', 'big Authorization');
  });

  // Built once the server listens: a request is a function of the Host header.
  it.each<[string, (host: string) => string]>([
    ['a header value with a bare line feed', () => get('/api/v1/runs', 'X-Note: a\nb\r\n')],
    ['a header value with NUL', () => get('/api/v1/runs', 'X-Note: a\u0000b\r\n')],
    ['a header name with a space', () => get('/api/v1/runs', 'X Note: a\r\n')],
    ['a request line that is not HTTP', () => 'HELLO THERE\r\n\r\n'],
    ['an unknown method', (host) => `BREW /api/v1/runs HTTP/1.1\r\nHost: ${host}\r\n\r\n`],
    ['a Content-Length that is not a number', (host) => `POST /api/v1/runs HTTP/1.1\r\nHost: ${host}\r\nContent-Length: ten\r\n\r\n`],
    ['both Content-Length and chunked', (host) => `POST /api/v1/runs HTTP/1.1\r\nHost: ${host}\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`],
  ])('answers %s with 400 bad_request', async (what, request) => {
    expectProblem(await raw(server, request(host)), 'bad_request', what);
  });

  it('answers a URL that does not decode with 400 bad_request', async () => {
    expectProblem(await raw(server, get('/api/v1/runs/%E0%A4%A')), 'bad_request', 'bad percent-encoding');
  });

  it('answers a path segment over the router limit with 414 uri_too_long', async () => {
    expectProblem(await raw(server, get(`/api/v1/workspaces/${'n'.repeat(3000)}`)), 'uri_too_long', 'long segment');
  });

  it('answers a route that does not exist with 404 not_found', async () => {
    expectProblem(await raw(server, get('/no/such/route')), 'not_found', 'unknown route');
    expectProblem(await raw(server, `DELETE /api/v1/quota HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`), 'not_found', 'unknown method of a route');
  });

  it('answers a body over the limit with 413 payload_too_large', async () => {
    const request = `POST /api/v1/runs HTTP/1.1\r\nHost: ${host}\r\nContent-Type: application/json\r\nContent-Length: ${2 * 1024 * 1024}\r\nConnection: close\r\n\r\n{`;
    expectProblem(await raw(server, request), 'payload_too_large', 'big body');
  });

  it('answers a body that is not JSON, or empty, with 400 validation_failed', async () => {
    const post = (body: string): string =>
      `POST /api/v1/runs HTTP/1.1\r\nHost: ${host}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`;
    expectProblem(await raw(server, post('{"prompt":')), 'validation_failed', 'bad JSON');
    expectProblem(await raw(server, post('')), 'validation_failed', 'empty JSON');
    expectProblem(await raw(server, post('{"__proto__":{"x":1}}')), 'validation_failed', '__proto__');
  });

  it('answers another media type with 415 unsupported_media_type', async () => {
    const request = `POST /api/v1/runs HTTP/1.1\r\nHost: ${host}\r\nContent-Type: application/xml\r\nContent-Length: 3\r\nConnection: close\r\n\r\n<a>`;
    expectProblem(await raw(server, request), 'unsupported_media_type', 'xml body');
  });
});

describe('a request reaching a closing server', () => {
  let server: TestServer;

  beforeAll(async () => {
    server = await startTestServer();
  });
  afterAll(async () => disposeTestServer(server));

  // A connection busy with a request when the close begins stays open until that request is
  // answered; a request pipelined behind it meets the closing server.
  it('is answered 503 shutting_down', async () => {
    const host = new URL(server.url).host;
    const token = server.token('closer');
    const body = JSON.stringify({ agent: 'lines', prompt: 'x' });
    const connection = open(server);
    connection.socket.write(
      `POST /api/v1/runs HTTP/1.1\r\nHost: ${host}\r\nAuthorization: Bearer ${token}\r\nContent-Type: application/json\r\n` +
        `Content-Length: ${body.length}\r\nExpect: 100-continue\r\n\r\n`,
    );
    // 100 Continue: the server holds the request, so the connection is not idle when the close begins.
    await waitFor(() => connection.received().toString('latin1').startsWith('HTTP/1.1 100'), 15_000, '100 Continue');
    const closing = server.close();
    await waitFor(() => !server.app.getHttpServer().listening, 15_000, 'the server to stop listening');
    connection.socket.write(body + `GET /api/v1/quota HTTP/1.1\r\nHost: ${host}\r\nAuthorization: Bearer ${token}\r\n\r\n`);
    const [, pipelined] = await connection.responses(2);
    await closing;
    expectProblem(pipelined!, 'shutting_down', 'request during close');
  });
});
