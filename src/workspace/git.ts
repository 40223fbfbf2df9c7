import { spawn } from 'node:child_process';
import { dirname } from 'node:path';

/** The author and committer of every commit the server makes. */
export const GIT_AUTHOR = { name: 'Auto Code Server', email: 'autocode@localhost' } as const;

/** Local operations (commit, worktree, diff) are quick; a stuck one must not hold a workspace's lock forever. */
export const LOCAL_GIT_TIMEOUT_MS = 120_000;
/** A clone crosses the network. */
export const CLONE_TIMEOUT_MS = 600_000;
/** So does a push. */
export const PUSH_TIMEOUT_MS = 600_000;

const DEFAULT_MAX_OUTPUT = 1024 * 1024;
const MAX_MESSAGE_CHARS = 2_000;

/** Variables of the server's environment git may see: the command path, proxies and CA bundles for https clones. */
const PASSED_ENV = ['PATH', 'HTTPS_PROXY', 'https_proxy', 'HTTP_PROXY', 'http_proxy', 'NO_PROXY', 'no_proxy', 'SSL_CERT_FILE', 'SSL_CERT_DIR'];

export class GitError extends Error {
  override name = 'GitError';

  constructor(
    message: string,
    readonly exitCode: number | null,
  ) {
    super(message);
  }
}

export interface GitOptions {
  cwd?: string;
  timeoutMs?: number;
  /** Transports git may use (GIT_ALLOW_PROTOCOL), e.g. for a clone; none by default. */
  protocols?: readonly string[];
  /** Stdout beyond this many bytes is an error, or with `truncate` is cut off. */
  maxOutputBytes?: number;
  truncate?: boolean;
  /** Exit codes that are answers rather than failures (`git diff --quiet` exits 1 when there are changes). */
  okExitCodes?: readonly number[];
  /** More variables for this git process only (a push's credential reaches its credential helper so, never an argument or a file). */
  env?: Readonly<Record<string, string>>;
}

export interface GitResult {
  stdout: string;
  exitCode: number;
  truncated: boolean;
}

/**
 * Runs git without a shell, in its own process group (killed whole on
 * timeout), with no terminal to prompt on, no system or global config, no
 * hooks and no fsmonitor: a repository's content or an agent's edits to
 * `.git/config` must not make the server run a program.
 */
export function git(args: readonly string[], options: GitOptions = {}): Promise<GitResult> {
  const env: NodeJS.ProcessEnv = {};
  for (const name of PASSED_ENV) {
    if (process.env[name] !== undefined) env[name] = process.env[name];
  }
  Object.assign(env, {
    LC_ALL: 'C',
    GIT_TERMINAL_PROMPT: '0',
    GIT_CONFIG_NOSYSTEM: '1',
    GIT_CONFIG_GLOBAL: '/dev/null',
    GIT_ALLOW_PROTOCOL: (options.protocols ?? []).join(':'),
    // The repository is the working directory itself, never one found further up (DATA_DIR may sit in a checkout).
    ...(options.cwd ? { GIT_CEILING_DIRECTORIES: dirname(options.cwd) } : {}),
    GIT_AUTHOR_NAME: GIT_AUTHOR.name,
    GIT_AUTHOR_EMAIL: GIT_AUTHOR.email,
    GIT_COMMITTER_NAME: GIT_AUTHOR.name,
    GIT_COMMITTER_EMAIL: GIT_AUTHOR.email,
    ...options.env,
  });
  const fullArgs = ['-c', 'core.hooksPath=/dev/null', '-c', 'core.fsmonitor=false', '-c', 'commit.gpgSign=false', ...args];
  const maxOutput = options.maxOutputBytes ?? DEFAULT_MAX_OUTPUT;
  return new Promise((resolve, reject) => {
    const child = spawn('git', fullArgs, { cwd: options.cwd, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    const stdout: Buffer[] = [];
    let stdoutBytes = 0;
    let stderr = '';
    let truncated = false;
    let failure: string | null = null;
    const killGroup = (): void => {
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        // already gone
      }
    };
    const timer = setTimeout(() => {
      failure = `git ${args[0]} timed out after ${Math.round((options.timeoutMs ?? LOCAL_GIT_TIMEOUT_MS) / 1000)} s`;
      killGroup();
    }, options.timeoutMs ?? LOCAL_GIT_TIMEOUT_MS);
    child.stdout.on('data', (chunk: Buffer) => {
      if (truncated || failure) return;
      const room = maxOutput - stdoutBytes;
      if (chunk.length <= room) {
        stdout.push(chunk);
        stdoutBytes += chunk.length;
        return;
      }
      if (!options.truncate) {
        failure = `git ${args[0]} printed more than ${maxOutput} bytes`;
        killGroup();
        return;
      }
      stdout.push(chunk.subarray(0, room));
      stdoutBytes = maxOutput;
      truncated = true;
      killGroup();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      if (stderr.length < 64 * 1024) stderr += chunk.toString('utf8');
    });
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(new GitError(`git could not be started: ${(error as NodeJS.ErrnoException).code ?? error.message}`, null));
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      const text = Buffer.concat(stdout).toString('utf8');
      if (failure) return reject(new GitError(failure, code));
      if (truncated) return resolve({ stdout: text, exitCode: 0, truncated });
      if (code === 0 || (code !== null && options.okExitCodes?.includes(code))) return resolve({ stdout: text, exitCode: code, truncated });
      reject(new GitError(gitMessage(stderr) || `git ${args[0]} failed with exit code ${code}`, code));
    });
  });
}

/** Git's own explanation, without progress noise, bounded. */
function gitMessage(stderr: string): string {
  const lines = stderr
    .split(/\r?\n|\r/)
    .map((line) => line.trim())
    .filter((line) => line && !line.startsWith('hint:'));
  return lines.join('\n').slice(0, MAX_MESSAGE_CHARS);
}
