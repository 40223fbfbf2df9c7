// submit: POST /api/v1/runs → 202 at 1 and 32 connections, next to a bare Fastify route answering the same JSON.
// The server runs with ROLE=api, so only admission is measured (no agent is started); quotas are set high.
// Then at 32 connections with an Idempotency-Key, new on each request and the same one repeated (replays), next to
// the server's own submits without one.
import { api, startReference, token } from '../lib.mjs';
import { load, sideBySide } from '../load.mjs';
import { met, ms, perSecond, share, times } from '../format.mjs';

const UNLIMITED = { concurrent: 10_000, daily: 1_000_000, queued: 100_000 };
const USERS = 32;
const BODY = JSON.stringify({ agent: 'noop', prompt: 'benchmark submit', metadata: { bench: 'submit' } });

export async function run(ctx) {
  return ctx.withServer('submit', { ROLE: 'api' }, {}, async (server) => {
    const bearers = Array.from({ length: USERS }, (_, i) => `Bearer ${token(`bench-submit-${i}`)}`);
    const admin = token('bench-admin', true);
    for (let i = 0; i < USERS; i++) await api(server.url, 'PUT', `/api/v1/admin/users/bench-submit-${i}/quota`, admin, UNLIMITED);
    const sample = await api(server.url, 'POST', '/api/v1/runs', bearers[0].slice(7), JSON.parse(BODY));
    const reference = await startReference({ submit: sample, read: sample });
    try {
      let fresh = 0;
      const keys = {
        none: () => ({}),
        fresh: () => ({ 'idempotency-key': `bench-${process.pid}-${fresh++}` }),
        replay: () => ({ 'idempotency-key': 'bench-replayed' }),
      };
      const drive = ({ url, pid }, connections, seconds, key = keys.none) =>
        load({
          url,
          pid,
          connections,
          seconds,
          request: (i) => ({
            method: 'POST',
            path: '/api/v1/runs',
            headers: { 'content-type': 'application/json', authorization: bearers[connections === 1 ? 0 : i % USERS], ...key() },
            body: BODY,
          }),
        });
      const at = {};
      for (const connections of [1, 32]) {
        at[connections] = await sideBySide({
          rounds: ctx.rounds,
          warmup: { reference: () => drive(reference, connections, 1), measure: () => drive(server, connections, 1) },
          reference: () => drive(reference, connections, ctx.seconds),
          measure: () => drive(server, connections, ctx.seconds),
        });
      }
      const keyed = {};
      for (const kind of ['fresh', 'replay']) {
        keyed[kind] = await sideBySide({
          rounds: ctx.rounds,
          warmup: { reference: () => drive(server, 32, 1), measure: () => drive(server, 32, 1, keys[kind]) },
          reference: () => drive(server, 32, ctx.seconds),
          measure: () => drive(server, 32, ctx.seconds, keys[kind]),
        });
      }
      const sqlite = ctx.db === 'sqlite';
      const rows = [];
      for (const connections of [1, 32]) {
        const { measured: m, reference: r } = at[connections];
        rows.push(
          { figure: `p50 @ ${connections} conn`, measured: ms(m.p50), reference: ms(r.p50), ratio: times(m.p50, r.p50), target: connections === 1 ? '≤ 3 ms' : '', met: connections === 1 ? met(m.p50 <= 3) : '' },
          { figure: `p99 @ ${connections} conn`, measured: ms(m.p99), reference: ms(r.p99), ratio: times(m.p99, r.p99) },
          {
            figure: `submits/s @ ${connections} conn`,
            measured: perSecond(m.rps),
            reference: perSecond(r.rps),
            ratio: share(m.rps, r.rps),
            target: connections === 32 ? `≥ 2,000/s${sqlite ? '' : ' (SQLite)'}` : '',
            met: connections === 32 && sqlite ? met(m.rps >= 2000) : '',
          },
        );
        rows.push({ figure: `server CPU per submit @ ${connections} conn`, measured: ms(m.cpuPerRequest), reference: ms(r.cpuPerRequest), ratio: times(m.cpuPerRequest, r.cpuPerRequest) });
        if (m.other > 0) rows.push({ figure: `non-2xx/errors @ ${connections} conn`, measured: String(m.other) });
      }
      for (const [kind, label] of [['fresh', 'with a new Idempotency-Key'], ['replay', 'replayed (same Idempotency-Key)']]) {
        const { measured: m, reference: r } = keyed[kind];
        const extra = m.cpuPerRequest - r.cpuPerRequest;
        rows.push(
          { figure: `submits/s ${label} @ 32 conn`, measured: perSecond(m.rps), reference: `${perSecond(r.rps)} without`, ratio: share(m.rps, r.rps) },
          {
            figure: `server CPU per submit ${label} @ 32 conn`,
            measured: ms(m.cpuPerRequest),
            reference: `${ms(r.cpuPerRequest)} without`,
            ratio: times(m.cpuPerRequest, r.cpuPerRequest),
            target: kind === 'fresh' ? '≤ +0.2 ms' : '',
            met: kind === 'fresh' ? met(extra <= 0.2) : '',
          },
        );
        if (m.other > 0) rows.push({ figure: `non-2xx/errors ${label} @ 32 conn`, measured: String(m.other) });
      }
      return { rows, details: { users: USERS, body: BODY, responseBytes: JSON.stringify(sample).length, at, keyed } };
    } finally {
      await reference.stop();
    }
  });
}
