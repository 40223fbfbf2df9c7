// memory: RSS of an idle server (a few seconds after it is ready), then with 100 queued and 8 running runs
// (MAX_CONCURRENT_AGENTS=8, agents that sleep; they are ended when the server stops).
import { api, rss, sleep, token, waitFor } from '../lib.mjs';
import { mb, met } from '../format.mjs';

const RUNNING = 8;
const QUEUED = 100;

export async function run(ctx) {
  const agents = { hold: { command: ['sleep', '300'] } };
  return ctx.withServer('memory', { MAX_CONCURRENT_AGENTS: String(RUNNING), SHUTDOWN_GRACE_SECONDS: '2' }, { agents }, async (server) => {
    await sleep(3000);
    const idle = rss(server.pid);
    const user = 'bench-memory';
    const bearer = token(user);
    await api(server.url, 'PUT', `/api/v1/admin/users/${user}/quota`, token('bench-admin', true), { concurrent: 10_000, daily: 1_000_000, queued: 100_000 });
    for (let i = 0; i < RUNNING + QUEUED; i += 9) {
      await Promise.all(Array.from({ length: Math.min(9, RUNNING + QUEUED - i) }, () => api(server.url, 'POST', '/api/v1/runs', bearer, { agent: 'hold', prompt: 'benchmark memory' })));
    }
    const quota = await waitFor(`${RUNNING} running and ${QUEUED} queued`, async () => {
      const q = await api(server.url, 'GET', '/api/v1/quota', bearer);
      return q.concurrent.used === RUNNING && q.queued.used === QUEUED ? q : null;
    }, { timeoutMs: 60_000, intervalMs: 100 });
    await sleep(2000);
    const loaded = rss(server.pid);
    return {
      rows: [
        { figure: 'RSS idle', measured: mb(idle), target: '≤ 150 MB', met: met(idle <= 150 * 1048576) },
        { figure: `RSS with ${QUEUED} queued + ${RUNNING} running runs`, measured: mb(loaded), ratio: `+${mb(loaded - idle)}` },
      ],
      details: { idle, loaded, quota },
    };
  });
}
