import { afterAll, beforeAll, describe, it } from '@jest/globals';
import { expect } from '../../../test/jest/expect.js';
import { disposeTestServer, FIXTURE_AGENTS, freePort, startTestServer, waitForStatus, type TestServer } from '../../../test/helpers/test-server.js';
import { createClient, type RunEvent } from '../src/index.js';
import { startProxy } from '../../../test/helpers/tcp-proxy.js';

// Following a run through a TCP proxy that cuts the event stream mid-run, in the middle of a frame:
// the client resumes after the last event it read, and the caller sees each event once, in order.

/** An agent that prints 40 lines, 40 ms apart: a run that is still going when the stream is cut. */
const DRIP = {
  executor: 'command',
  command: [process.execPath, '-e', "let i = 0; const t = setInterval(() => { console.log('drip ' + ++i); if (i === 40) clearInterval(t); }, 40);"],
};

describe('@autocode/client followRun over a broken connection', () => {
  let server: TestServer;

  beforeAll(async () => {
    server = await startTestServer({ agents: { ...FIXTURE_AGENTS, drip: DRIP } });
  });
  afterAll(async () => {
    if (server) await disposeTestServer(server);
  });

  it('resumes from the last seq after each cut: the events are exactly seq 1..N', async () => {
    // Cut three times, at byte counts that fall inside frames (headers and `retry:` come first).
    const proxy = await startProxy(server.url, [700, 1111, 333]);
    try {
      const token = server.token('alice');
      const direct = createClient({ baseUrl: server.url, token });
      const client = createClient({ baseUrl: proxy.url, token });
      const run = await direct.submitRun({ agent: 'drip', prompt: 'drip' });

      const events: RunEvent[] = [];
      for await (const event of client.followRun(run.id, { retry: { initialDelayMs: 50, maxDelayMs: 200 } })) events.push(event);

      const finished = await direct.getRun(run.id);
      expect(finished.status).toBe('succeeded');
      const { data: stored } = await direct.GET('/api/v1/runs/{id}/events', { params: { path: { id: run.id }, query: { limit: 1000 } } });
      const storedSeqs = (stored as { items: RunEvent[] }).items.map((event) => event.seq);

      expect(events.map((event) => event.seq), 'no duplicate, no gap').toEqual(storedSeqs.map((_, i) => i + 1));
      expect(events).toEqual((stored as { items: RunEvent[] }).items);
      expect(events.filter((event) => event.type === 'stdout').length).toBe(40);

      // Four connections: three cut, the last one to the end; each resumed after what had been read.
      expect(proxy.streams.length, proxy.streams.join('\n---\n')).toBe(4);
      expect(/last-event-id/i.test(proxy.streams[0]!)).toBe(false);
      const resumedAfter = proxy.streams.slice(1).map((head) => Number(/^last-event-id: (\d+)/im.exec(head)?.[1]));
      for (const seq of resumedAfter) expect(seq).toBeGreaterThan(0);
      expect([...resumedAfter].sort((a, b) => a - b)).toEqual(resumedAfter);
      // The first cut came while the agent was still printing.
      expect(proxy.firstCutAt).not.toBeNull();
      expect(proxy.firstCutAt!).toBeLessThan(Date.parse(finished.finishedAt!));
    } finally {
      await proxy.close();
    }
  });

  it('waits as long as Retry-After says when reconnecting is answered 503, then resumes', async () => {
    const proxy = await startProxy(server.url, [900, 'unavailable']);
    try {
      const token = server.token('alice');
      const direct = createClient({ baseUrl: server.url, token });
      const client = createClient({ baseUrl: proxy.url, token });
      const run = await direct.submitRun({ agent: 'drip', prompt: 'drip' });

      const seqs: number[] = [];
      for await (const event of client.followRun(run.id, { retry: { initialDelayMs: 50, maxDelayMs: 200 } })) seqs.push(event.seq);

      expect(seqs).toEqual(seqs.map((_, i) => i + 1));
      expect(seqs.length).toBeGreaterThan(40);
      expect((await direct.getRun(run.id)).status).toBe('succeeded');
      expect(proxy.streams.length, proxy.streams.join('\n---\n')).toBe(3);
      // The backoff alone would have been at most 200 ms; Retry-After asked for a second.
      expect(proxy.arrivals[2]! - proxy.arrivals[1]!).toBeGreaterThanOrEqual(950);
    } finally {
      await proxy.close();
    }
  });

  it('gives up once the retry time is spent, with the last error', async () => {
    const nowhere = `http://127.0.0.1:${await freePort()}`;
    let attempts = 0;
    const client = createClient({
      baseUrl: nowhere,
      token: server.token('alice'),
      fetch: (input, init) => {
        attempts += 1;
        return fetch(input, init);
      },
    });
    const startedAt = Date.now();
    const error = await (async () => {
      for await (const event of client.followRun('00000000-0000-4000-8000-000000000000', { retry: { initialDelayMs: 50, maxDelayMs: 200, retryForMs: 1000 } })) {
        throw new Error(`no event can come from nowhere: ${JSON.stringify(event)}`);
      }
    })().then(
      () => null,
      (reason: unknown) => reason,
    );
    // fetch's own error for a refused connection (a TypeError of another realm than jest's).
    expect(error).toMatchObject({ name: 'TypeError', message: 'fetch failed' });
    expect(attempts, 'it tried again before giving up').toBeGreaterThan(1);
    expect(Date.now() - startedAt, 'bounded by retryForMs, not endless').toBeLessThan(15_000);
  });

  it('stops when the caller aborts, and throws the abort reason', async () => {
    const token = server.token('alice');
    const client = createClient({ baseUrl: server.url, token });
    const run = await client.submitRun({ agent: 'sleeper', prompt: 'sleep' });
    await waitForStatus(server, token, run.id, ['running']);
    const controller = new AbortController();
    const seen: number[] = [];
    const error = await (async () => {
      for await (const event of client.followRun(run.id, { signal: controller.signal })) {
        seen.push(event.seq);
        if (event.type === 'status' && event.data.status === 'running') controller.abort(new Error('the caller is done'));
      }
    })().then(
      () => null,
      (reason: unknown) => reason,
    );
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).message).toBe('the caller is done');
    expect(seen).toEqual([1, 2]);
    await client.cancelRun(run.id);
    expect((await client.waitForRun(run.id)).status).toBe('cancelled');
  });
});
