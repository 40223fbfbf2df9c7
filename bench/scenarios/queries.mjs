// queries (not in the default set): SQL statements per operation, counted by bench/sql-count.mjs preloaded into the
// server (no change to src/). Request operations run on a ROLE=api server (no dispatcher ticks); a run's
// life and its output lines on a ROLE=all server. The details in the JSON list every statement per operation.
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { api, onCleanup, ROOT, sleep, token, waitFor } from '../lib.mjs';

const PRELOAD = ['--import', pathToFileURL(join(ROOT, 'bench', 'sql-count.mjs')).href];
const FINAL = new Set(['succeeded', 'failed', 'cancelled', 'timed_out', 'interrupted']);
const N = 30;

/** A file the preload writes its counts to; removed afterwards. */
function countFile() {
  const file = join(tmpdir(), `autocode-bench-sql-${randomBytes(6).toString('hex')}.json`);
  onCleanup(() => rmSync(file, { force: true }));
  return file;
}

function counter(server, file) {
  let last = 0;
  return async function snapshot() {
    process.kill(server.pid, 'SIGUSR2');
    const data = await waitFor('the SQL counts', () => {
      if (!existsSync(file)) return null;
      try {
        const parsed = JSON.parse(readFileSync(file, 'utf8'));
        return parsed.snapshot > last ? parsed : null;
      } catch {
        return null;
      }
    }, { timeoutMs: 10_000, intervalMs: 20 });
    last = data.snapshot;
    return data;
  };
}

/** Statements executed by `work`, divided by `per`. */
async function measure(snapshot, per, work) {
  const before = await snapshot();
  await work();
  const after = await snapshot();
  const statements = {};
  const totals = { total: 0, ms: 0, begin: 0, select: 0, insert: 0, update: 0 };
  for (const [sql, { count, ms: spent, texts }] of Object.entries(after.statements)) {
    const was = before.statements[sql] ?? { count: 0, ms: 0, texts: 0 };
    const delta = count - was.count;
    if (delta <= 0) continue;
    const ms = spent - was.ms;
    statements[sql] = { perOp: round(delta / per, 3), msPerOp: round(ms / per, 4), newTexts: texts - was.texts };
    totals.total += delta;
    totals.ms += ms;
    if (/^(BEGIN|START TRANSACTION)/i.test(sql)) totals.begin += delta;
    else if (/^SELECT/i.test(sql)) totals.select += delta;
    else if (/^INSERT/i.test(sql)) totals.insert += delta;
    else if (/^UPDATE/i.test(sql)) totals.update += delta;
  }
  return {
    total: round(totals.total / per),
    msPerOp: round(totals.ms / per, 3),
    begin: round(totals.begin / per),
    select: round(totals.select / per),
    insert: round(totals.insert / per),
    update: round(totals.update / per),
    prepares: round((after.prepares - before.prepares) / per),
    statements,
  };
}

const round = (value, digits = 2) => Math.round(value * 10 ** digits) / 10 ** digits;

function row(operation, m, db) {
  return {
    figure: operation,
    measured: `${m.total} statements`,
    reference: `${m.begin} txn · ${m.select} SELECT · ${m.insert} INSERT · ${m.update} UPDATE`,
    ratio: `${m.msPerOp} ms in ${db === 'postgres' ? 'PostgreSQL (round trips)' : `SQLite · ${m.prepares} prepares`}`,
  };
}

export async function run(ctx) {
  const rows = [];
  const details = {};
  const admin = token('bench-admin', true);
  const quota = { concurrent: 10_000, daily: 1_000_000, queued: 100_000 };

  const apiFile = countFile();
  await ctx.withServer('queries-api', { ROLE: 'api', SQL_COUNT_FILE: apiFile }, { nodeArgs: PRELOAD }, async (server) => {
    const snapshot = counter(server, apiFile);
    const bearer = token('bench-queries');
    await api(server.url, 'PUT', '/api/v1/admin/users/bench-queries/quota', admin, quota);
    const runs = [];
    await api(server.url, 'POST', '/api/v1/runs', bearer, { agent: 'noop', prompt: 'warm' });
    details.submit = await measure(snapshot, N, async () => {
      for (let i = 0; i < N; i++) runs.push(await api(server.url, 'POST', '/api/v1/runs', bearer, { agent: 'noop', prompt: 'benchmark queries' }));
    });
    details.get = await measure(snapshot, N, async () => {
      for (let i = 0; i < N; i++) await api(server.url, 'GET', `/api/v1/runs/${runs[i].id}`, bearer);
    });
    details.list = await measure(snapshot, N, async () => {
      for (let i = 0; i < N; i++) await api(server.url, 'GET', '/api/v1/runs?limit=20', bearer);
    });
    details.events = await measure(snapshot, N, async () => {
      for (let i = 0; i < N; i++) await api(server.url, 'GET', `/api/v1/runs/${runs[i].id}/events`, bearer);
    });
    details.quota = await measure(snapshot, N, async () => {
      for (let i = 0; i < N; i++) await api(server.url, 'GET', '/api/v1/quota', bearer);
    });
    // A new user's first request (the guard's upsert), then the cached path.
    details.firstSight = await measure(snapshot, N, async () => {
      for (let i = 0; i < N; i++) await api(server.url, 'GET', '/api/v1/quota', token(`bench-new-${i}`));
    });
    details.health = await measure(snapshot, N, async () => {
      for (let i = 0; i < N; i++) await (await fetch(`${server.url}/health/ready`)).arrayBuffer();
    });
  });

  const agents = { lines: { command: [process.execPath, join(ROOT, 'bench', 'fixtures', 'lines.mjs')] } };
  const allFile = countFile();
  await ctx.withServer('queries-all', { MAX_CONCURRENT_AGENTS: '8', SQL_COUNT_FILE: allFile }, { nodeArgs: PRELOAD, agents }, async (server) => {
    const snapshot = counter(server, allFile);
    const bearer = token('bench-queries');
    await api(server.url, 'PUT', '/api/v1/admin/users/bench-queries/quota', admin, quota);
    const finish = (id) => waitFor(`run ${id}`, async () => FINAL.has((await api(server.url, 'GET', `/api/v1/runs/${id}`, bearer)).status), { timeoutMs: 60_000, intervalMs: 50 });
    const idleSeconds = 5;
    details.idlePerSecond = await measure(snapshot, idleSeconds, () => sleep(idleSeconds * 1000));
    // Polling for the end costs GETs: one per 50 ms; their statements are left in and show as `SELECT … FROM runs`.
    details.runLife = await measure(snapshot, 10, async () => {
      for (let i = 0; i < 10; i++) await finish((await api(server.url, 'POST', '/api/v1/runs', bearer, { agent: 'noop', prompt: 'benchmark queries' })).id);
    });
    const LINES = 1000;
    details.paced = await measure(snapshot, LINES, async () => {
      const run = await api(server.url, 'POST', '/api/v1/runs', bearer, { agent: 'lines', prompt: JSON.stringify({ lines: LINES, intervalMs: 5 }) });
      await finish(run.id);
    });
    details.burst = await measure(snapshot, LINES, async () => {
      const run = await api(server.url, 'POST', '/api/v1/runs', bearer, { agent: 'lines', prompt: JSON.stringify({ lines: LINES, intervalMs: 0 }) });
      await finish(run.id);
    });
  });

  rows.push(
    row('POST /api/v1/runs (per request)', details.submit, ctx.db),
    row('GET /api/v1/runs/:id', details.get, ctx.db),
    row('GET /api/v1/runs?limit=20', details.list, ctx.db),
    row('GET /api/v1/runs/:id/events (JSON)', details.events, ctx.db),
    row('GET /api/v1/quota', details.quota, ctx.db),
    row("a new user's first request (GET /api/v1/quota)", details.firstSight, ctx.db),
    row('GET /health/ready', details.health, ctx.db),
    row('idle dispatcher, per second', details.idlePerSecond, ctx.db),
    row('one trivial run: submit → finished (incl. polling GETs every 50 ms)', details.runLife, ctx.db),
    row('per output line, 1 line / 5 ms (incl. the run around it)', details.paced, ctx.db),
    row('per output line, 1000 lines at once (incl. the run around it)', details.burst, ctx.db),
  );
  return { rows, details };
}
