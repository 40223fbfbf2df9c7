// dispatch: submit → agent process running. The agent (fixtures/start-time.mjs) prints the wall time its process
// began (performance.timeOrigin) as its first stdout line; it is read back from the run's events. The reference
// spawns the same agent with child_process.spawn and reads the same line. Samples alternate server / reference,
// one at a time (each run finishes before the next starts).
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { api, median, now, onCleanup, percentile, ROOT, sleep, token, waitFor } from '../lib.mjs';
import { met, ms } from '../format.mjs';

const AGENT = [process.execPath, join(ROOT, 'bench', 'fixtures', 'start-time.mjs')];
const FINAL = new Set(['succeeded', 'failed', 'cancelled', 'timed_out', 'interrupted']);
const WARMUP = 3;
const signed = (delta) => `${delta >= 0 ? '+' : '−'}${ms(Math.abs(delta))}`;

/** Spawns the agent the way a bare program would; resolves the delay from spawn() to the agent's process start. */
function referenceSample() {
  return new Promise((resolve, reject) => {
    const t0 = now();
    const child = spawn(AGENT[0], AGENT.slice(1), { detached: true, stdio: ['pipe', 'pipe', 'pipe'] });
    child.stdin.end('benchmark dispatch');
    let out = '';
    child.stdout.on('data', (chunk) => (out += chunk));
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    child.on('error', reject);
    child.on('close', () => {
      clearTimeout(timer);
      const origin = Number(out.split(/\s/)[0]);
      Number.isFinite(origin) ? resolve(origin - t0) : reject(new Error(`reference agent printed ${JSON.stringify(out)}`));
    });
  });
}

/** With --trace: the server's steps (bench/trace.mjs) as [{at, event, detail}], in order. */
function traceEvents(file) {
  if (!file || !existsSync(file)) return [];
  return readFileSync(file, 'utf8').trim().split('\n').filter(Boolean).map((line) => {
    const [at, event, detail] = line.split(' ');
    return { at: Number(at), event, detail };
  }).sort((a, b) => a.at - b.at);
}

/**
 * Splits one sample by the traced steps: the submit's transaction, the claim's, the workspace mkdirs, spawn().
 * Samples run one at a time, so every step between t0 and the agent's start belongs to it.
 */
function breakdown(sample, events) {
  const mine = events.filter((e) => e.at >= sample.t0 && e.at <= sample.origin + 1);
  const first = (event, after = -Infinity) => mine.find((e) => e.event === event && e.at >= after)?.at;
  const submitCommit = first('commit');
  const claimBegin = first('begin', submitCommit);
  const claimCommit = first('commit', claimBegin);
  const mkdirCall = first('mkdir-call', claimCommit);
  const lastMkdirDone = mine.filter((e) => e.event === 'mkdir-done').at(-1)?.at;
  const spawnCall = first('spawn-call', claimCommit);
  const spawnReturn = first('spawn-return', spawnCall);
  if ([submitCommit, claimBegin, claimCommit, mkdirCall, lastMkdirDone, spawnCall, spawnReturn].some((v) => v === undefined)) return null;
  return {
    'request → submit committed': submitCommit - sample.t0,
    'submit committed → claim BEGIN': claimBegin - submitCommit,
    'claim transaction (BEGIN → COMMIT)': claimCommit - claimBegin,
    'claim committed → workspace mkdir': mkdirCall - claimCommit,
    'workspace + home mkdir': lastMkdirDone - mkdirCall,
    'mkdir done → spawn() called': spawnCall - lastMkdirDone,
    'inside spawn() (fork, blocks the event loop)': spawnReturn - spawnCall,
    'spawn() returned → agent process began': sample.origin - spawnReturn,
  };
}

async function serverSample(url, bearer) {
  const t0 = now();
  const run = await api(url, 'POST', '/api/v1/runs', bearer, { agent: 'start-time', prompt: 'benchmark dispatch' });
  // No polling while the server starts the agent: each GET would compete with it for the server's event loop.
  await sleep(250);
  const done = await waitFor(`run ${run.id} to finish`, async () => {
    const current = await api(url, 'GET', `/api/v1/runs/${run.id}`, bearer);
    return FINAL.has(current.status) ? current : null;
  }, { timeoutMs: 30_000, intervalMs: 50 });
  if (done.status !== 'succeeded') throw new Error(`run ${run.id} ended ${done.status}: ${JSON.stringify(done.error)}`);
  const { items } = await api(url, 'GET', `/api/v1/runs/${run.id}/events?limit=100`, bearer);
  const line = items.find((event) => event.type === 'stdout')?.data.line;
  const origin = Number(String(line).split(/\s/)[0]);
  if (!Number.isFinite(origin)) throw new Error(`run ${run.id}: no start time in its events`);
  return {
    runId: run.id,
    t0,
    origin,
    total: origin - t0,
    // Where the time goes, from the server's own timestamps (millisecond resolution): submit answered → claimed → agent started.
    claim: Date.parse(done.startedAt) - Date.parse(done.createdAt),
    launch: origin - Date.parse(done.startedAt),
  };
}

export async function run(ctx) {
  const agents = { 'start-time': { command: AGENT } };
  const traceFile = ctx.trace ? join(tmpdir(), `autocode-bench-trace-${randomBytes(6).toString('hex')}`) : null;
  if (traceFile) onCleanup(() => rmSync(traceFile, { force: true }));
  const env = traceFile ? { TRACE_FILE: traceFile } : {};
  const nodeArgs = traceFile ? ['--import', pathToFileURL(join(ROOT, 'bench', 'trace.mjs')).href] : [];
  return ctx.withServer('dispatch', env, { agents, nodeArgs }, async (server) => {
    const bearer = token('bench-dispatch');
    await api(server.url, 'PUT', '/api/v1/admin/users/bench-dispatch/quota', token('bench-admin', true), { concurrent: 100, daily: 1_000_000, queued: 100_000 });
    const measured = [];
    const reference = [];
    for (let i = 0; i < ctx.samples + WARMUP; i++) {
      const r = await referenceSample();
      const m = await serverSample(server.url, bearer);
      if (i >= WARMUP) {
        reference.push(r);
        measured.push(m);
      }
      await sleep(20);
    }
    await sleep(400); // the tracer writes every 200 ms
    const events = traceEvents(traceFile);
    const steps = measured.map((sample) => breakdown(sample, events)).filter(Boolean);
    const stepNames = steps.length ? Object.keys(steps[0]) : [];
    const total = measured.map((s) => s.total);
    const p50 = median(total);
    const p99 = percentile(total, 99);
    const r50 = median(reference);
    const r99 = percentile(reference, 99);
    return {
      rows: [
        { figure: 'submit → agent started, p50', measured: ms(p50), reference: ms(r50), ratio: signed(p50 - r50), target: 'overhead ≤ 10 ms', met: met(p50 - r50 <= 10) },
        { figure: 'submit → agent started, p99', measured: ms(p99), reference: ms(r99), ratio: signed(p99 - r99) },
        { figure: '… of which created → startedAt (claim), p50', measured: ms(median(measured.map((s) => s.claim))) },
        { figure: '… of which startedAt → agent process, p50', measured: ms(median(measured.map((s) => s.launch))) },
        ...stepNames.map((name) => ({
          figure: `… ${name}, p50 (--trace, ${steps.length} samples)`,
          measured: ms(median(steps.map((step) => step[name]))),
          ...(name.startsWith('spawn() returned') ? { reference: `${ms(r50)} (whole reference)` } : {}),
        })),
      ],
      details: { samples: ctx.samples, measured, reference, steps },
    };
  });
}
