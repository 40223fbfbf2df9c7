import { get } from 'node:http';
import { afterAll, beforeAll, describe, it } from '@jest/globals';
import { expect } from './jest/expect.js';
import { disposeTestServer, FIXTURE_AGENTS, fixtureProfile, startTestServer, waitForStatus, type TestServer } from './helpers/test-server.js';

// The event stream of a finished run is its whole replay, in one connection, even when the client
// reads slower than the server writes (a browser rendering a long log does).

describe('the event stream of a finished run', () => {
  let server: TestServer;

  beforeAll(async () => {
    server = await startTestServer({ agents: { ...FIXTURE_AGENTS, long: fixtureProfile('lines.mjs', ['20000']) } });
  });
  afterAll(async () => {
    await disposeTestServer(server);
  });

  it('replays every event to the final status to a slow reader, without ending early', async () => {
    const token = server.token('alice');
    const submitted = await server.request('POST', '/api/v1/runs', { token, body: { agent: 'long', prompt: 'long' } });
    expect(submitted.status).toBe(202);
    const run = await waitForStatus(server, token, submitted.json.id, ['succeeded'], 60_000);
    const text = await new Promise<string>((resolve, reject) => {
      const request = get(`${server.url}/api/v1/runs/${run.id}/events`, { headers: { authorization: `Bearer ${token}`, accept: 'text/event-stream' } }, (response) => {
        // Not read for a while: the socket's buffers fill and the server has to wait for 'drain'.
        response.pause();
        let body = '';
        setTimeout(() => {
          response.setEncoding('utf8');
          response.on('data', (chunk: string) => (body += chunk));
          response.on('end', () => resolve(body));
          response.resume();
        }, 500);
      });
      request.on('error', reject);
    });
    const ids = [...text.matchAll(/^id: (\d+)$/gm)].map((match) => Number(match[1]));
    // 20,000 stdout lines, one stderr line and the statuses queued, running, succeeded.
    expect(ids.length).toBe(20_004);
    expect(ids.at(-1)).toBe(20_004);
    expect(text).toMatch(/"status":"succeeded"/);
  });
});
