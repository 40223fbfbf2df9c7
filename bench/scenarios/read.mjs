// read: GET /api/v1/runs/:id at 32 connections, next to a bare Fastify route answering the same JSON. ROLE=api;
// the database holds a few hundred runs of several users first, so the lookup is not on a one-row table.
import { api, startReference, token } from '../lib.mjs';
import { load, sideBySide } from '../load.mjs';
import { met, ms, perSecond, share, times } from '../format.mjs';

const CONNECTIONS = 32;
const USERS = 8;
const RUNS_PER_USER = 50;

export async function run(ctx) {
  return ctx.withServer('read', { ROLE: 'api' }, {}, async (server) => {
    const admin = token('bench-admin', true);
    const ids = [];
    for (let u = 0; u < USERS; u++) {
      await api(server.url, 'PUT', `/api/v1/admin/users/bench-read-${u}/quota`, admin, { concurrent: 10_000, daily: 1_000_000, queued: 100_000 });
      const bearer = token(`bench-read-${u}`);
      for (let i = 0; i < RUNS_PER_USER; i += 10) {
        const batch = await Promise.all(Array.from({ length: 10 }, () => api(server.url, 'POST', '/api/v1/runs', bearer, { agent: 'noop', prompt: 'benchmark read' })));
        ids.push(...batch.map((run) => ({ id: run.id, bearer: `Bearer ${bearer}` })));
      }
    }
    const sample = await api(server.url, 'GET', `/api/v1/runs/${ids[0].id}`, ids[0].bearer.slice(7));
    const reference = await startReference({ submit: sample, read: sample });
    try {
      const drive = ({ url, pid }, seconds) =>
        load({ url, pid, connections: CONNECTIONS, seconds, request: (i) => ({ method: 'GET', path: `/api/v1/runs/${ids[i % ids.length].id}`, headers: { authorization: ids[i % ids.length].bearer } }) });
      const { measured: m, reference: r } = await sideBySide({
        rounds: ctx.rounds,
        warmup: { reference: () => drive(reference, 1), measure: () => drive(server, 1) },
        reference: () => drive(reference, ctx.seconds),
        measure: () => drive(server, ctx.seconds),
      });
      const rows = [
        { figure: `req/s @ ${CONNECTIONS} conn`, measured: perSecond(m.rps), reference: perSecond(r.rps), ratio: share(m.rps, r.rps), target: '≥ 30 % of reference', met: met(m.rps >= 0.3 * r.rps) },
        { figure: `p50 @ ${CONNECTIONS} conn`, measured: ms(m.p50), reference: ms(r.p50), ratio: times(m.p50, r.p50) },
        { figure: `p99 @ ${CONNECTIONS} conn`, measured: ms(m.p99), reference: ms(r.p99), ratio: times(m.p99, r.p99) },
      ];
      rows.push({ figure: 'server CPU per request', measured: ms(m.cpuPerRequest), reference: ms(r.cpuPerRequest), ratio: times(m.cpuPerRequest, r.cpuPerRequest) });
      if (m.other > 0) rows.push({ figure: 'non-2xx/errors', measured: String(m.other) });
      return { rows, details: { runs: ids.length, responseBytes: JSON.stringify(sample).length, measured: m, reference: r } };
    } finally {
      await reference.stop();
    }
  });
}
