import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, it } from '@jest/globals';
import { Webhook } from 'standardwebhooks';
import { expect } from './jest/expect.js';
import { disposeTestServer, ManualClock, startTestServer, waitFor, waitForStatus, type TestServer } from './helpers/test-server.js';

// Signed webhooks, end to end: a real receiver on 127.0.0.1 verifies every delivery with the
// `standardwebhooks` package's own verifier.

interface Received {
  headers: IncomingHttpHeaders;
  body: string;
}

/** An HTTP receiver whose answers the test sets: each request takes the next status (the last one repeats). */
class Receiver {
  readonly received: Received[] = [];
  statuses: number[] = [204];
  private server: Server | null = null;

  async start(): Promise<string> {
    this.server = createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        this.received.push({ headers: request.headers, body: Buffer.concat(chunks).toString('utf8') });
        const status = this.statuses.length > 1 ? this.statuses.shift()! : this.statuses[0]!;
        if (status >= 300 && status < 400) response.setHeader('location', `${this.url}/elsewhere`);
        response.writeHead(status).end(status >= 400 ? 'receiver says no' : '');
      });
    });
    this.server.listen(0, '127.0.0.1');
    await new Promise((resolve) => this.server!.once('listening', resolve));
    return this.url;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server!.address() as AddressInfo).port}`;
  }

  events(): { type: string; data: { run: { id: string; status: string } } }[] {
    return this.received.map((request) => JSON.parse(request.body));
  }

  async stop(): Promise<void> {
    await new Promise((resolve) => this.server?.close(resolve));
  }
}

describe('webhooks', () => {
  const clock = new ManualClock(new Date());
  let server: TestServer;
  let receiver: Receiver;

  beforeAll(async () => {
    server = await startTestServer({ clock, env: { WEBHOOK_ALLOW_PRIVATE_NETWORKS: 'true' } });
  });
  afterAll(async () => disposeTestServer(server));
  afterEach(async () => receiver?.stop());

  async function endpoint(user: string, body: Record<string, unknown>): Promise<{ id: string; secret: string }> {
    const created = await server.request('POST', '/api/v1/webhooks', { token: server.token(user), body });
    expect(created.status, created.text).toBe(201);
    return created.json;
  }

  async function run(user: string, agent: string): Promise<string> {
    const submitted = await server.request('POST', '/api/v1/runs', { token: server.token(user), body: { agent, prompt: 'hook me' } });
    expect(submitted.status, submitted.text).toBe(202);
    return submitted.json.id;
  }

  it('sends run.started and run.succeeded, signed so the Standard Webhooks verifier accepts them', async () => {
    receiver = new Receiver();
    const url = await receiver.start();
    const hook = await endpoint('ann', { url });
    expect(hook.secret).toMatch(/^whsec_[A-Za-z0-9+/]+=*$/);
    const id = await run('ann', 'fast');
    await waitForStatus(server, server.token('ann'), id, ['succeeded']);
    await waitFor(() => receiver.received.length >= 2, 15_000, 'two deliveries');
    const verifier = new Webhook(hook.secret);
    for (const request of receiver.received) {
      expect(request.headers['content-type']).toBe('application/json');
      expect(request.headers['webhook-id']).toMatch(/^[0-9a-f-]{36}$/);
      const payload = verifier.verify(request.body, request.headers as Record<string, string>) as { type: string; timestamp: string; data: { run: { id: string } } };
      expect(payload.data.run.id).toBe(id);
      expect(Date.parse(payload.timestamp)).not.toBeNaN();
    }
    // Deliveries due together are sent concurrently: they may arrive in either order.
    expect(receiver.events().map((event) => `${event.type} ${event.data.run.status}`).sort()).toEqual(['run.started running', 'run.succeeded succeeded']);
    // A tampered body or another secret fails verification: the signature covers both.
    const [first] = receiver.received;
    expect(() => verifier.verify(first!.body.replace('hook', 'hack'), first!.headers as Record<string, string>)).toThrow();
    expect(() => new Webhook(`whsec_${Buffer.alloc(24, 1).toString('base64')}`).verify(first!.body, first!.headers as Record<string, string>)).toThrow();

    // The receiver has the requests before the server has recorded their answers.
    const deliveries = await waitFor(async () => {
      const page = await server.request('GET', `/api/v1/webhooks/${hook.id}/deliveries`, { token: server.token('ann') });
      expect(page.status, page.text).toBe(200);
      return page.json.items.every((delivery: { status: string }) => delivery.status !== 'pending') ? page : undefined;
    }, 15_000, 'both deliveries to be recorded');
    expect(deliveries.json.items.map((d: { eventType: string; status: string; attempts: number; lastStatusCode: number }) => [d.eventType, d.status, d.attempts, d.lastStatusCode])).toEqual([
      ['run.succeeded', 'succeeded', 1, 204],
      ['run.started', 'succeeded', 1, 204],
    ]);
    const metrics = await server.request('GET', '/metrics');
    expect(metrics.text).toMatch(/autocode_webhook_deliveries_total\{outcome="delivered"\} [1-9]/);
  });

  it('shows the secret only once, and each user only their own endpoints', async () => {
    receiver = new Receiver();
    const hook = await endpoint('bo', { url: await receiver.start(), events: ['run.failed'] });
    const list = await server.request('GET', '/api/v1/webhooks', { token: server.token('bo') });
    expect(list.json.items).toEqual([expect.objectContaining({ id: hook.id, events: ['run.failed'], disabledAt: null })]);
    expect(list.text).not.toContain(hook.secret);
    const other = await server.request('GET', '/api/v1/webhooks', { token: server.token('cy') });
    expect(other.json.items).toEqual([]);
    for (const [method, path] of [
      ['DELETE', `/api/v1/webhooks/${hook.id}`],
      ['GET', `/api/v1/webhooks/${hook.id}/deliveries`],
    ] as const) {
      const response = await server.request(method, path, { token: server.token('cy') });
      expect(response.status, `${method} ${path}: ${response.text}`).toBe(404);
      expect(response.json.code).toBe('webhook_not_found');
    }
    const removed = await server.request('DELETE', `/api/v1/webhooks/${hook.id}`, { token: server.token('bo') });
    expect(removed.status, removed.text).toBe(204);
    expect((await server.request('GET', '/api/v1/webhooks', { token: server.token('bo') })).json.items).toEqual([]);
  });

  it('sends only the event types an endpoint asked for: run.failed, run.cancelled', async () => {
    receiver = new Receiver();
    const url = await receiver.start();
    await endpoint('dee', { url, events: ['run.failed', 'run.cancelled'] });
    const failed = await run('dee', 'fail');
    await waitForStatus(server, server.token('dee'), failed, ['failed']);
    const sleeping = await run('dee', 'sleeper');
    await waitForStatus(server, server.token('dee'), sleeping, ['running']);
    await server.request('POST', `/api/v1/runs/${sleeping}/cancel`, { token: server.token('dee') });
    await waitForStatus(server, server.token('dee'), sleeping, ['cancelled']);
    await waitFor(() => receiver.received.length >= 2, 15_000, 'two deliveries');
    expect(receiver.events().map((event) => `${event.type} ${event.data.run.id}`).sort()).toEqual([`run.cancelled ${sleeping}`, `run.failed ${failed}`].sort());
  });

  it('retries a failed delivery with backoff, never follows a redirect, and keeps the same webhook-id', async () => {
    receiver = new Receiver();
    receiver.statuses = [302, 500, 200];
    const hook = await endpoint('eli', { url: await receiver.start(), events: ['run.succeeded'] });
    const id = await run('eli', 'fast');
    await waitForStatus(server, server.token('eli'), id, ['succeeded']);
    // The receiver sees a request before the server records its answer, and the next attempt is
    // scheduled from the clock at that moment: the clock moves only once the answer is recorded.
    const recorded = (attempts: number, lastStatusCode: number) =>
      waitFor(async () => {
        const page = await server.request('GET', `/api/v1/webhooks/${hook.id}/deliveries`, { token: server.token('eli') });
        const [item] = page.json.items;
        return item?.attempts === attempts && item.lastStatusCode === lastStatusCode && item.nextAttemptAt ? item : undefined;
      }, 15_000, `attempt ${attempts} to be recorded`);
    const pending = await recorded(1, 302);
    expect(pending).toMatchObject({ status: 'pending', attempts: 1, lastStatusCode: 302 });
    expect(pending.lastError).toMatch(/redirects are not followed/);
    // The first retry waits 5 s ± 20 %, the second 5 min ± 20 %; the clock moves past each instead of the test waiting.
    clock.set(new Date(clock.now().getTime() + 6_500));
    await waitFor(() => receiver.received.length >= 2, 15_000, 'attempt 2');
    await recorded(2, 500);
    clock.set(new Date(clock.now().getTime() + 5 * 60_000 * 1.3));
    await waitFor(() => receiver.received.length >= 3, 15_000, 'attempt 3');
    expect(receiver.received.map((request) => request.headers['webhook-id'])).toEqual(Array(3).fill(receiver.received[0]!.headers['webhook-id']));
    await waitFor(async () => {
      const page = await server.request('GET', `/api/v1/webhooks/${hook.id}/deliveries`, { token: server.token('eli') });
      return page.json.items[0].status === 'succeeded' ? page.json.items[0] : undefined;
    }, 15_000, 'the delivery to succeed');
    const done = (await server.request('GET', `/api/v1/webhooks/${hook.id}/deliveries`, { token: server.token('eli') })).json.items[0];
    expect(done).toMatchObject({ status: 'succeeded', attempts: 3, lastStatusCode: 200 });
  });

  it('disables an endpoint that failed for 24 hours and says why; a redelivery enables it again', async () => {
    receiver = new Receiver();
    receiver.statuses = [503];
    const hook = await endpoint('fin', { url: await receiver.start(), events: ['run.succeeded'] });
    const id = await run('fin', 'fast');
    await waitForStatus(server, server.token('fin'), id, ['succeeded']);
    await waitFor(async () => {
      const page = await server.request('GET', `/api/v1/webhooks/${hook.id}/deliveries`, { token: server.token('fin') });
      return page.json.items[0]?.lastStatusCode === 503;
    }, 15_000, 'the first attempt to be recorded');
    clock.set(new Date(clock.now().getTime() + 24 * 3600_000 + 60_000));
    await waitFor(async () => {
      const list = await server.request('GET', '/api/v1/webhooks', { token: server.token('fin') });
      return list.json.items[0].disabledAt !== null ? list.json.items[0] : undefined;
    }, 15_000, 'the endpoint to be disabled');
    const [disabled] = (await server.request('GET', '/api/v1/webhooks', { token: server.token('fin') })).json.items;
    expect(disabled.disabledReason).toMatch(/failed for 24 hours.*HTTP 503/);
    const [delivery] = (await server.request('GET', `/api/v1/webhooks/${hook.id}/deliveries`, { token: server.token('fin') })).json.items;
    expect(delivery.status).toBe('failed');
    // Nothing more is sent to a disabled endpoint.
    const before = receiver.received.length;
    const another = await run('fin', 'fast');
    await waitForStatus(server, server.token('fin'), another, ['succeeded']);
    receiver.statuses = [200];
    const redelivered = await server.request('POST', `/api/v1/webhooks/${hook.id}/deliveries/${delivery.id}/redeliver`, { token: server.token('fin') });
    expect(redelivered.status, redelivered.text).toBe(202);
    await waitFor(() => receiver.received.length > before, 15_000, 'the redelivery');
    expect(receiver.received.slice(before).map((request) => request.headers['webhook-id'])).toEqual([delivery.id]);
    const [enabled] = (await server.request('GET', '/api/v1/webhooks', { token: server.token('fin') })).json.items;
    expect(enabled.disabledAt).toBeNull();
  });
});

describe('webhook addresses', () => {
  let server: TestServer;

  beforeAll(async () => {
    server = await startTestServer();
  });
  afterAll(async () => disposeTestServer(server));

  it('refuses loopback, private and link-local addresses unless WEBHOOK_ALLOW_PRIVATE_NETWORKS is set', async () => {
    for (const url of ['http://127.0.0.1:9/hook', 'http://localhost:9/hook', 'http://10.1.2.3/hook', 'http://169.254.169.254/latest/meta-data', 'http://[::1]:9/', 'http://[::ffff:127.0.0.1]/', 'https://192.168.0.10/']) {
      const response = await server.request('POST', '/api/v1/webhooks', { token: server.token('gil'), body: { url } });
      expect(response.status, `${url}: ${response.text}`).toBe(400);
      expect(response.json.code, url).toBe('webhook_url_not_allowed');
    }
    for (const body of [{ url: 'ftp://example.com/x' }, { url: 'not a url' }, { url: 'https://user:pw@example.com/' }, { url: 'https://example.com/', events: ['run.exploded'] }]) {
      const response = await server.request('POST', '/api/v1/webhooks', { token: server.token('gil'), body });
      expect(response.status, `${JSON.stringify(body)}: ${response.text}`).toBe(400);
      expect(response.json.code).toBe('validation_failed');
    }
    expect((await server.request('GET', '/api/v1/webhooks', { token: server.token('gil') })).json.items).toEqual([]);
  });
});
