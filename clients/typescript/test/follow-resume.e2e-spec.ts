import { once } from 'node:events';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, it } from '@jest/globals';
import { expect } from '../../../test/jest/expect.js';
import { disposeTestServer, FIXTURE_AGENTS, freePort, startTestServer, waitForStatus, type TestServer } from '../../../test/helpers/test-server.js';
import { createClient, type RunEvent } from '../src/index.js';

// Following a run through a TCP proxy that cuts the event stream mid-run, in the middle of a frame:
// the client resumes after the last event it read, and the caller sees each event once, in order.

/** An agent that prints 40 lines, 40 ms apart: a run that is still going when the stream is cut. */
const DRIP = {
  executor: 'command',
  command: [process.execPath, '-e', "let i = 0; const t = setInterval(() => { console.log('drip ' + ++i); if (i === 40) clearInterval(t); }, 40);"],
};

/** What the proxy does with one event-stream connection: cut it after so many bytes of the answer, or answer 503 itself. */
type Step = number | 'unavailable';

const UNAVAILABLE = JSON.stringify({ type: 'https://autocode.dev/problems/shutting-down', title: 'Service Unavailable', status: 503, detail: 'the server is shutting down', code: 'shutting_down' });

interface Proxy {
  url: string;
  /** The request heads of the event-stream connections, in order. */
  streams: string[];
  /** When each event-stream connection arrived. */
  arrivals: number[];
  /** When the first cut happened. */
  firstCutAt: number | null;
  close(): Promise<void>;
}

/**
 * Forwards 127.0.0.1 connections to the server. The n-th event-stream connection goes as `plan[n]`
 * says: destroyed both ways once that many bytes of the answer have passed, or answered 503
 * `shutting_down` with `Retry-After: 1`; later ones are left alone.
 */
async function startProxy(target: string, plan: Step[]): Promise<Proxy> {
  const { port: targetPort } = new URL(target);
  const sockets = new Set<Socket>();
  const proxy: Proxy = { url: '', streams: [], arrivals: [], firstCutAt: null, close: async () => {} };
  const server: Server = createServer((client) => {
    const upstream = connect(Number(targetPort), '127.0.0.1');
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
      socket.on('error', () => {});
    }
    let budget = Infinity;
    let decided = false;
    client.on('data', (chunk: Buffer) => {
      if (!decided) {
        decided = true;
        const head = chunk.toString('latin1');
        if (/^accept: text\/event-stream/im.test(head)) {
          const step = plan[proxy.streams.length] ?? Infinity;
          proxy.streams.push(head);
          proxy.arrivals.push(Date.now());
          if (step === 'unavailable') {
            upstream.destroy();
            client.end(
              'HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/problem+json\r\nretry-after: 1\r\n' +
                `content-length: ${Buffer.byteLength(UNAVAILABLE)}\r\nconnection: close\r\n\r\n${UNAVAILABLE}`,
            );
            return;
          }
          budget = step;
        }
      }
      upstream.write(chunk);
    });
    upstream.on('data', (chunk: Buffer) => {
      if (chunk.length < budget) {
        budget -= chunk.length;
        client.write(chunk);
        return;
      }
      client.write(chunk.subarray(0, budget));
      proxy.firstCutAt ??= Date.now();
      client.destroy();
      upstream.destroy();
    });
    client.on('end', () => upstream.end());
    upstream.on('end', () => client.end());
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  proxy.url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  proxy.close = async () => {
    for (const socket of sockets) socket.destroy();
    server.close();
    await once(server, 'close');
  };
  return proxy;
}

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
