// webhooks: latency from a run's final status (its finishedAt) to the signed delivery of run.succeeded arriving at a
// receiver on 127.0.0.1, over 1,000 trivial runs (MAX_CONCURRENT_AGENTS=8, submitted 8 at a time). The reference is
// the same receiver getting a plain POST of the same size from this process on a fresh connection, sent when the
// timestamp is taken: the least a delivery can cost here.
import { createServer, request } from 'node:http';
import { api, now, percentile, token, waitFor } from '../lib.mjs';
import { met, ms } from '../format.mjs';

const RUNS = 1000;
const PARALLEL = 8;

function receiver(onDelivery) {
  const server = createServer((req, res) => {
    const chunks = [];
    req.on('data', (chunk) => chunks.push(chunk));
    req.on('end', () => {
      const arrived = now();
      res.writeHead(204).end();
      onDelivery(Buffer.concat(chunks).toString('utf8'), arrived, req.headers);
    });
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

/** Plain POSTs of a body of `size` bytes, one at a time on fresh connections: ms from sending to the receiver's end of body. */
async function reference(url, size, count) {
  const latencies = [];
  let pending = null;
  const server = await receiver((_body, arrived) => pending?.(arrived));
  const { port } = server.address();
  const body = Buffer.alloc(size, 'x');
  for (let i = 0; i < count; i++) {
    const sent = now();
    const arrived = await new Promise((resolve, reject) => {
      pending = resolve;
      const req = request({ host: '127.0.0.1', port, method: 'POST', path: '/', agent: false, headers: { 'content-type': 'application/json', 'content-length': body.length } });
      req.on('error', reject);
      req.on('response', (res) => res.resume());
      req.end(body);
    });
    latencies.push(arrived - sent);
  }
  server.close();
  return latencies;
}

export async function run(ctx) {
  return ctx.withServer('webhooks', { MAX_CONCURRENT_AGENTS: String(PARALLEL), WEBHOOK_ALLOW_PRIVATE_NETWORKS: 'true' }, {}, async (server) => {
    const user = 'bench-webhooks';
    const bearer = token(user);
    await api(server.url, 'PUT', `/api/v1/admin/users/${user}/quota`, token('bench-admin', true), { concurrent: 10_000, daily: 1_000_000, queued: 100_000 });
    const latencies = [];
    let size = 0;
    const hooks = await receiver((body, arrived) => {
      const event = JSON.parse(body);
      size = Buffer.byteLength(body);
      latencies.push(arrived - Date.parse(event.data.run.finishedAt));
    });
    try {
      await api(server.url, 'POST', '/api/v1/webhooks', bearer, { url: `http://127.0.0.1:${hooks.address().port}/hook`, events: ['run.succeeded'] });
      let submitted = 0;
      await Promise.all(
        Array.from({ length: PARALLEL }, async () => {
          while (submitted < RUNS) {
            submitted++;
            await api(server.url, 'POST', '/api/v1/runs', bearer, { agent: 'noop', prompt: 'benchmark webhooks' });
          }
        }),
      );
      await waitFor('every delivery', async () => latencies.length >= RUNS, { timeoutMs: Math.max(120_000, RUNS * 250), intervalMs: 100 });
    } finally {
      hooks.close();
    }
    const base = await reference(server.url, size, 200);
    const p50 = percentile(latencies, 50);
    const p99 = percentile(latencies, 99);
    return {
      rows: [
        { figure: `delivery latency p50 (${RUNS} runs)`, measured: ms(p50), reference: ms(percentile(base, 50)) },
        { figure: `delivery latency p99 (${RUNS} runs)`, measured: ms(p99), reference: ms(percentile(base, 99)), target: '≤ 100 ms', met: met(p99 <= 100) },
      ],
      details: { runs: RUNS, payloadBytes: size, latencies: { p50, p90: percentile(latencies, 90), p99, max: Math.max(...latencies) }, reference: { p50: percentile(base, 50), p99: percentile(base, 99) } },
    };
  });
}
