// startup: process start → GET /health/ready answers 200, first on an empty DATA_DIR (migrations run), then
// restarts on the same one; the wall time of `node dist/cli.js agents list` (an admin command: the server's
// modules and database) and of `node dist/cli.js --version` (the remote commands' start). Reference: `node -e 0`.
// Each figure is the median of a few attempts, interleaved with the reference.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { distDir, freePort, median, now, onCleanup, SECRET, SERVER_NODE_FLAGS, sleep } from '../lib.mjs';
import { met, ms, times } from '../format.mjs';

const ATTEMPTS = 5;

async function timeProcess(args, env) {
  const t0 = now();
  const child = spawn(process.execPath, args, { env, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (chunk) => (stderr += chunk));
  const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
  const [code] = await once(child, 'exit');
  clearTimeout(timer);
  if (code !== 0) throw new Error(`node ${args.join(' ')} exited ${code}: ${stderr.slice(-2000)}`);
  return now() - t0;
}

/** Starts the server and returns the time until /health/ready answered 200; stops it again. */
async function timeReady(env, nodeArgs) {
  const port = await freePort();
  const t0 = now();
  const child = spawn(process.execPath, [...SERVER_NODE_FLAGS, ...nodeArgs, join(distDir(), 'main.js')], { env: { ...env, PORT: String(port) }, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (chunk) => (stderr += chunk));
  const stop = onCleanup(async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = once(child, 'exit');
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    await exited;
    clearTimeout(timer);
  });
  try {
    for (let attempt = 0; attempt < 3000; attempt++) {
      if (child.exitCode !== null) throw new Error(`the server exited ${child.exitCode}: ${stderr.slice(-2000)}`);
      try {
        const response = await fetch(`http://127.0.0.1:${port}/health/ready`, { signal: AbortSignal.timeout(2000) });
        if (response.status === 200) return now() - t0;
        await response.arrayBuffer();
      } catch {}
      await sleep(5);
    }
    throw new Error('the server was not ready within the bound');
  } finally {
    await stop();
  }
}

export async function run(ctx) {
  const database = await ctx.database();
  const dataDir = mkdtempSync(join(tmpdir(), 'autocode-bench-startup-'));
  const removeDir = onCleanup(() => rmSync(dataDir, { recursive: true, force: true }));
  try {
    const agentsFile = join(dataDir, 'agents.json');
    writeFileSync(agentsFile, JSON.stringify({ default: 'noop', agents: { noop: { command: ['true'] } } }));
    const env = { PATH: process.env.PATH, DATA_DIR: dataDir, HOST: '127.0.0.1', JWT_SECRET: SECRET, AGENTS_FILE: agentsFile, LOG_LEVEL: 'info', LOG_FORMAT: 'json', RATE_LIMIT_PER_MINUTE: '0', SANDBOX: ctx.sandbox, ...database.env };
    const nodeArgs = ctx.profileDir ? ['--cpu-prof', `--cpu-prof-dir=${join(ctx.profileDir, 'startup')}`] : [];
    const bare = [];
    const fresh = await timeReady(env, nodeArgs);
    const restarts = [];
    const cli = [];
    const version = [];
    for (let i = 0; i < ATTEMPTS; i++) {
      bare.push(await timeProcess(['-e', '0'], { PATH: process.env.PATH }));
      restarts.push(await timeReady(env, nodeArgs));
      cli.push(await timeProcess([...nodeArgs, join(distDir(), 'cli.js'), 'agents', 'list'], env));
      version.push(await timeProcess([join(distDir(), 'cli.js'), '--version'], { PATH: process.env.PATH, HOME: dataDir }));
    }
    const ref = median(bare);
    const ready = median(restarts);
    const cliWall = median(cli);
    const versionWall = median(version);
    return {
      rows: [
        { figure: 'process start → /health/ready 200, restart (median)', measured: ms(ready), reference: ms(ref), ratio: times(ready, ref), target: '≤ 1.5 s', met: met(ready <= 1500) },
        { figure: '… first start on an empty DATA_DIR (migrations)', measured: ms(fresh), reference: ms(ref), ratio: times(fresh, ref), target: '≤ 1.5 s', met: met(fresh <= 1500) },
        { figure: '`node dist/cli.js agents list` wall time (median)', measured: ms(cliWall), reference: ms(ref), ratio: times(cliWall, ref), target: '≤ 1 s', met: met(cliWall <= 1000) },
        { figure: '`node dist/cli.js --version` wall time (median)', measured: ms(versionWall), reference: ms(ref), ratio: times(versionWall, ref), target: '≤ 300 ms', met: met(versionWall <= 300) },
      ],
      details: { fresh, restarts, cli, version, bare },
    };
  } finally {
    await removeDir();
    await database.release();
  }
}
