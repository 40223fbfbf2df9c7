import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { DIST } from './test-server.js';

export interface CliResult {
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface RunningCli {
  child: ChildProcessWithoutNullStreams;
  /** What it printed so far. */
  stdout(): string;
  stderr(): string;
  /** Resolves when it exits. */
  result: Promise<CliResult>;
}

/**
 * Starts the built `autocode` with exactly this environment, without blocking the test's event
 * loop (an in-process test server answers it from there). It is killed after `timeoutMs`.
 */
export function startCli(env: Record<string, string>, args: string[], options: { input?: string; timeoutMs?: number; cwd?: string } = {}): RunningCli {
  const child = spawn(process.execPath, [join(DIST, 'cli.js'), ...args], { env, cwd: options.cwd, stdio: 'pipe' });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  child.stdin.end(options.input ?? '');
  const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 60_000);
  const result = once(child, 'close').then(([status, signal]) => {
    clearTimeout(timer);
    return { status: status as number | null, signal: signal as NodeJS.Signals | null, stdout, stderr };
  });
  return { child, stdout: () => stdout, stderr: () => stderr, result };
}

export function autocode(env: Record<string, string>, args: string[], options: { input?: string; timeoutMs?: number; cwd?: string } = {}): Promise<CliResult> {
  return startCli(env, args, options).result;
}

/** The environment of a CI job or laptop: no DATA_DIR, a config home of its own, the server named by variables. */
export function clientEnv(home: string, server?: { url: string; token: string }, extra: Record<string, string> = {}): Record<string, string> {
  return {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: home,
    XDG_CONFIG_HOME: join(home, '.config'),
    ...(server ? { AUTOCODE_SERVER: server.url, AUTOCODE_TOKEN: server.token } : {}),
    ...extra,
  };
}
