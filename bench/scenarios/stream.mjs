// stream: N SSE subscribers on one run whose agent (fixtures/lines.mjs) prints M timestamped lines at a steady
// pace once every subscriber is connected. Delivery latency: the line's own timestamp → the chunk holding it
// arrived at the subscriber. RSS of the server: before the subscribers connect, and the peak while streaming.
import http from 'node:http';
import { randomBytes } from 'node:crypto';
import { rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { api, cpuTime, now, percentile, ROOT, rss, sleep, token, waitFor } from '../lib.mjs';
import { kb, mb, met, ms } from '../format.mjs';

const AGENT = [process.execPath, join(ROOT, 'bench', 'fixtures', 'lines.mjs')];
const INTERVAL_MS = 5;

/** One subscriber: records each stdout line's delivery latency into `latencies` at `base + index`. */
function subscribe(url, runId, bearer, onLatency) {
  return new Promise((resolveConnected, rejectConnected) => {
    const state = { received: 0, final: false, error: null, closed: null };
    state.closed = new Promise((resolveClosed) => {
      const request = http.request(`${url}/api/v1/runs/${runId}/events`, {
        agent: false,
        headers: { authorization: `Bearer ${bearer}`, accept: 'text/event-stream' },
      });
      request.setTimeout(120_000, () => request.destroy(new Error('subscriber timed out')));
      request.on('error', (error) => {
        state.error = error;
        rejectConnected(error);
        resolveClosed();
      });
      request.on('response', (response) => {
        if (response.statusCode !== 200) {
          rejectConnected(new Error(`events: ${response.statusCode}`));
          response.resume();
          return;
        }
        response.setEncoding('utf8');
        let tail = '';
        let connected = false;
        response.on('data', (text) => {
          const at = now();
          // Only "line":"<index> <timestamp> …" is read: cheap enough for a million frames on a shared machine.
          const chunk = tail + text;
          const re = /"line":"\d+ (\d+\.\d+)/g;
          let match;
          let last = 0;
          while ((match = re.exec(chunk)) !== null) {
            onLatency(at - Number(match[1]));
            state.received++;
            last = re.lastIndex;
          }
          if (!state.final && chunk.includes('"type":"status","data":{"status":"succeeded"')) state.final = true;
          tail = chunk.slice(Math.max(last, chunk.length - 200));
          if (!connected && chunk.includes('"status":"running"')) {
            connected = true;
            resolveConnected(state);
          }
        });
        response.on('end', resolveClosed);
        response.on('error', (error) => {
          state.error = error;
          resolveClosed();
        });
      });
      request.end();
    });
  });
}

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

      const latencies = new Float64Array(subscribers * lines);
      let count = 0;
      const record = (value) => {
        if (count < latencies.length) latencies[count++] = value;
      };
      const connectStart = now();
      const states = [];
      // Connected in waves of 50, so the listen backlog is never the question.
      for (let i = 0; i < subscribers; i += 50) {
        states.push(...(await Promise.all(Array.from({ length: Math.min(50, subscribers - i) }, () => subscribe(server.url, runView.id, bearer, record)))));
      }
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
      await Promise.race([Promise.all(states.map((s) => s.closed)), new Promise((resolve) => (timer = setTimeout(resolve, bound)))]);
      clearTimeout(timer);
      clearInterval(sampler);
      const streamSeconds = (now() - streamStart) / 1000;
      const clientCpu = process.cpuUsage(clientCpu0);
      // Share of one core each side used while streaming: near 100 % means that side was the bottleneck.
      const clientBusy = (clientCpu.user + clientCpu.system) / 1000 / (streamSeconds * 1000);
      const serverCpuMs = cpuTime(server.pid) - serverCpu0;
      const serverBusy = serverCpuMs / (streamSeconds * 1000);

      const samples = latencies.subarray(0, count);
      const expected = subscribers * lines;
      const finals = states.filter((s) => s.final).length;
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
          { figure: `CPU while streaming (${streamSeconds.toFixed(1)} s for ${((lines * INTERVAL_MS) / 1000).toFixed(0)} s of output)`, measured: `server ${Math.round(serverBusy * 100)} % of a core`, reference: `subscribers (this process) ${Math.round(clientBusy * 100)} %` },
          { figure: 'server CPU per delivered line (line × subscriber)', measured: `${((serverCpuMs * 1000) / Math.max(1, count)).toFixed(1)} µs` },
          { figure: 'RSS growth per subscriber', measured: kb(perSubscriber), target: '≤ 50 KB', met: met(perSubscriber <= 50 * 1024) },
        ],
        details: { subscribers, lines, intervalMs: INTERVAL_MS, connectSeconds, streamSeconds, serverBusy, clientBusy, delivered: count, expected, finals, errors: states.filter((s) => s.error).length, rssBefore, rssConnected, rssPeak, p50, p90: percentile(samples, 90), p99, max: percentile(samples, 100) },
      };
    } finally {
      rmSync(goFile, { force: true });
    }
  });
}
