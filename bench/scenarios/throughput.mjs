// throughput: trivial runs (`true`) completed end to end per second, with MAX_CONCURRENT_AGENTS=8: all runs are
// submitted at once (8 submitters), then the user's quota usage is polled until nothing is queued or running.
// The end is the last run's finishedAt. The reference spawns `true` and waits for it, 8 at a time, measured
// before and after the server (the mean of the two).
import { spawn } from 'node:child_process';
import { api, cpuTime, now, sleep, token, waitFor } from '../lib.mjs';
import { met, ms, perSecond, share } from '../format.mjs';

const PARALLEL = 8;
const AGENT = ['true'];

/** Runs `count` agents, `PARALLEL` at a time, each spawned like the server does (own group, piped stdio, prompt on stdin). */
async function reference(count) {
  let next = 0;
  const t0 = now();
  const worker = async () => {
    while (next < count) {
      next++;
      await new Promise((resolve, reject) => {
        const child = spawn(AGENT[0], AGENT.slice(1), { detached: true, stdio: ['pipe', 'pipe', 'pipe'] });
        child.stdin.on('error', () => {});
        child.stdin.end('benchmark throughput');
        child.stdout.resume();
        child.stderr.resume();
        child.on('error', reject);
        child.on('close', resolve);
      });
    }
  };
  await Promise.all(Array.from({ length: PARALLEL }, worker));
  return count / ((now() - t0) / 1000);
}

export async function run(ctx) {
  const count = ctx.runs;
  return ctx.withServer('throughput', { MAX_CONCURRENT_AGENTS: String(PARALLEL) }, {}, async (server) => {
    const user = 'bench-throughput';
    const bearer = token(user);
    await api(server.url, 'PUT', `/api/v1/admin/users/${user}/quota`, token('bench-admin', true), { concurrent: 10_000, daily: 1_000_000, queued: 100_000 });
    const before = await reference(count);
    await sleep(500);

    const t0 = now();
    const cpu0 = cpuTime(server.pid);
    let submitted = 0;
    const submitters = Array.from({ length: PARALLEL }, async () => {
      while (submitted < count) {
        submitted++;
        await api(server.url, 'POST', '/api/v1/runs', bearer, { agent: 'noop', prompt: 'benchmark throughput' });
      }
    });
    await Promise.all(submitters);
    const submitSeconds = (now() - t0) / 1000;
    // Generous bound: even at 4 runs/s it finishes.
    await waitFor('every run to finish', async () => {
      const quota = await api(server.url, 'GET', '/api/v1/quota', bearer);
      return quota.queued.used === 0 && quota.concurrent.used === 0;
    }, { timeoutMs: Math.max(120_000, count * 250), intervalMs: 250 });

    // Read every run back: all must have succeeded; the end is the last finishedAt.
    const statuses = {};
    let lastFinished = 0;
    let seen = 0;
    let cursor = null;
    for (let page = 0; page < Math.ceil(count / 100) + 2; page++) {
      const list = await api(server.url, 'GET', `/api/v1/runs?limit=100${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`, bearer);
      for (const run of list.items) {
        seen++;
        statuses[run.status] = (statuses[run.status] ?? 0) + 1;
        if (run.finishedAt) lastFinished = Math.max(lastFinished, Date.parse(run.finishedAt));
      }
      cursor = list.nextCursor;
      if (!cursor) break;
    }
    const cpuPerRun = (cpuTime(server.pid) - cpu0) / count;
    const seconds = (lastFinished - t0) / 1000;
    const measured = count / seconds;

    await sleep(500);
    const after = await reference(count);
    const ref = (before + after) / 2;
    const succeeded = statuses.succeeded ?? 0;
    return {
      rows: [
        { figure: `runs/s end to end (${count} runs, 8 agents)`, measured: perSecond(measured), reference: perSecond(ref), ratio: share(measured, ref), target: '≥ 30 % of reference', met: met(measured >= 0.3 * ref && succeeded === count) },
        { figure: 'runs succeeded', measured: `${succeeded} / ${count}`, met: met(succeeded === count) },
        { figure: '… of which submitting them all took', measured: `${submitSeconds.toFixed(1)} s` },
        { figure: 'server CPU per run (submit, start, output, finish; polling included)', measured: ms(cpuPerRun) },
      ],
      details: { count, seconds, submitSeconds, cpuPerRun, measured, reference: { before, after }, statuses, seen },
    };
  });
}
