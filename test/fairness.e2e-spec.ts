import { afterAll, beforeAll, describe, it } from '@jest/globals';
import { expect } from './jest/expect.js';
import { disposeTestServer, startTestServer, waitForStatus, type TestServer } from './helpers/test-server.js';

// Free slots go to the users in turn: a user with many runs queued ahead of another's few does
// not make the other wait for all of them.

describe('fair share of the slots', () => {
  let server: TestServer;

  beforeAll(async () => {
    server = await startTestServer({ env: { MAX_CONCURRENT_AGENTS: '1' } });
  });
  afterAll(async () => disposeTestServer(server));

  it("interleaves a second user's runs with the first user's backlog", async () => {
    const alice = server.token('fair-alice');
    const bob = server.token('fair-bob');
    const submit = async (token: string, name: string): Promise<{ id: string; name: string }> => {
      const response = await server.request('POST', '/api/v1/runs', { token, body: { agent: 'short', prompt: name } });
      expect(response.status, response.text).toBe(202);
      return { id: response.json.id, name };
    };
    // Alice's first run takes the only slot; four more of hers wait, then two of Bob's.
    const runs = [];
    for (const name of ['a1', 'a2', 'a3', 'a4', 'a5']) runs.push({ ...(await submit(alice, name)), token: alice });
    for (const name of ['b1', 'b2']) runs.push({ ...(await submit(bob, name)), token: bob });
    const finished = [];
    for (const run of runs) finished.push({ name: run.name, ...(await waitForStatus(server, run.token, run.id, ['succeeded'], 30_000)) });
    const order = finished.sort((x, y) => (x.startedAt < y.startedAt ? -1 : 1)).map((run) => run.name);
    expect(order).toEqual(['a1', 'b1', 'a2', 'b2', 'a3', 'a4', 'a5']);
  });
});
