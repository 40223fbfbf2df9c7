// stream: N SSE subscribers on one run whose agent (fixtures/lines.mjs) prints M timestamped lines at a steady
// pace once every subscriber is connected. Delivery latency: the line's own timestamp → the chunk holding it
// arrived at the subscriber. RSS of the server: before the subscribers connect, and the peak while streaming.
// The subscribers are shared by a few worker threads (stream-subscribers.mjs, --subscriber-threads, 2 by default):
// 500 streams read by one event loop measure that loop more than the server.
import { randomBytes } from 'node:crypto';
import { rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { api, cpuTime, now, percentile, ROOT, rss, sleep, token, waitFor } from '../lib.mjs';
import { kb, mb, met, ms } from '../format.mjs';

const AGENT = [process.execPath, join(ROOT, 'bench', 'fixtures', 'lines.mjs')];
const INTERVAL_MS = 5;

export async function run(ctx) {
  const agents = { lines: { command: AGENT } };
  const subscribers = ctx.subscribers;
  const lines = ctx.lines;
  return ctx.withServer('stream', {}, { agents }, async (server) => {
    const user = 'bench-stream';
    const bearer = token(user);
    await api(server.url, 'PUT', `/api/v1/admin/users/${user}/quota`, token('bench-admin', true), { concurrent: 100, daily: 1_000_000, queued: 100_000 });
    const goFile = join(tmpdir(), `autocode-bench-go-${randomBytes(6).toString('hex')}`);
    try {
      const prompt = JSON.stringify({ lines, intervalMs: INTERVAL_MS, goFile, waitMs: 120_000 });
      const runView = await api(server.url, 'POST', '/api/v1/runs', bearer, { agent: 'lines', prompt });
      await waitFor('the agent to start', async () => (await api(server.url, 'GET', `/api/v1/runs/${runView.id}`, bearer)).status === 'running', { timeoutMs: 30_000 });
      await sleep(1000);
      const rssBefore = rss(server.pid);

      const connectStart = now();
      const threads = Math.max(1, Math.min(ctx.subscriberThreads, subscribers));
      const workers = Array.from({ length: threads }, (_, t) => {
        const count = Math.floor(subscribers / threads) + (t < subscribers % threads ? 1 : 0);
        const worker = new Worker(new URL('./stream-subscribers.mjs', import.meta.url), { workerData: { url: server.url, runId: runView.id, bearer, count, lines } });
        const messages = [];
        const waiters = [];
        worker.on('message', (message) => (waiters.length > 0 ? waiters.shift()(message) : messages.push(message)));
        const failed = new Promise((_, reject) => {
          worker.on('error', reject);
          worker.on('exit', (code) => reject(new Error(`a subscriber thread exited (${code}) early`)));
        });
        failed.catch(() => undefined);
        const next = () => Promise.race([failed, new Promise((resolve) => (messages.length > 0 ? resolve(messages.shift()) : waiters.push(resolve)))]);
        return { worker, next };
      });
      await Promise.all(workers.map((w) => w.next()));
      const connectSeconds = (now() - connectStart) / 1000;
      await sleep(500);
      const rssConnected = rss(server.pid);

      let rssPeak = rssConnected;
      const sampler = setInterval(() => {
        try {
          rssPeak = Math.max(rssPeak, rss(server.pid));
        } catch {}
      }, 100);
      const streamStart = now();
      const clientCpu0 = process.cpuUsage();
      const serverCpu0 = cpuTime(server.pid);
      writeFileSync(goFile, 'go');
      const bound = lines * INTERVAL_MS + 120_000;
      let timer;
      const outcomes = await Promise.race([
        Promise.all(workers.map((w) => w.next())),
        new Promise((resolve) => (timer = setTimeout(resolve, bound))).then(() => Promise.all(workers.map((w) => w.worker.terminate())).then(() => [])),
      ]);
      clearTimeout(timer);
      clearInterval(sampler);
      const streamSeconds = (now() - streamStart) / 1000;
      const clientCpu = process.cpuUsage(clientCpu0);
      // Share of one core each side used while streaming: near 100 % means that side was the bottleneck.
      const clientBusy = (clientCpu.user + clientCpu.system) / 1000 / (streamSeconds * 1000);
      const serverCpuMs = cpuTime(server.pid) - serverCpu0;
      const serverBusy = serverCpuMs / (streamSeconds * 1000);

      const samples = new Float64Array(outcomes.reduce((n, o) => n + o.samples.length, 0));
      outcomes.reduce((at, o) => (samples.set(o.samples, at), at + o.samples.length), 0);
      const count = samples.length;
      const expected = subscribers * lines;
      const finals = outcomes.reduce((n, o) => n + o.finals, 0);
      const growth = rssPeak - rssBefore;
      const perSubscriber = growth / subscribers;
      const p50 = percentile(samples, 50);
      const p99 = percentile(samples, 99);
      return {
        rows: [
          { figure: `delivery latency p50 (${subscribers} subscribers × ${lines} lines)`, measured: ms(p50) },
          { figure: 'delivery latency p99', measured: ms(p99), target: '≤ 50 ms', met: met(p99 <= 50) },
          { figure: 'lines delivered', measured: `${count} / ${expected}`, met: met(count === expected && finals === subscribers) },
          { figure: 'server RSS before → peak', measured: `${mb(rssBefore)} → ${mb(rssPeak)}` },
          { figure: `CPU while streaming (${streamSeconds.toFixed(1)} s for ${((lines * INTERVAL_MS) / 1000).toFixed(0)} s of output)`, measured: `server ${Math.round(serverBusy * 100)} % of a core`, reference: `subscribers (${threads} threads of this process) ${Math.round(clientBusy * 100)} %` },
          { figure: 'server CPU per delivered line (line × subscriber)', measured: `${((serverCpuMs * 1000) / Math.max(1, count)).toFixed(1)} µs` },
          { figure: 'RSS growth per subscriber', measured: kb(perSubscriber), target: '≤ 50 KB', met: met(perSubscriber <= 50 * 1024) },
        ],
        details: { subscribers, lines, intervalMs: INTERVAL_MS, connectSeconds, streamSeconds, serverBusy, clientBusy, delivered: count, expected, finals, errors: outcomes.reduce((n, o) => n + o.errors, 0), subscriberThreads: threads, rssBefore, rssConnected, rssPeak, p50, p90: percentile(samples, 90), p99, max: percentile(samples, 100) },
      };
    } finally {
      rmSync(goFile, { force: true });
    }
  });
}
