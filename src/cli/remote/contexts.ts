import { chmodSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { CliError } from '../../common/cli-output.js';
import { EXIT } from './exit-codes.js';

/** Where a server is and the token to use there. */
export interface Context {
  server: string;
  token: string;
}

/** `$XDG_CONFIG_HOME/autocode/config.json`: named contexts and the one in use. */
export interface ContextFile {
  current: string | null;
  contexts: Record<string, Context>;
}

export const DEFAULT_CONTEXT = 'default';

export function contextFilePath(env: NodeJS.ProcessEnv = process.env): string {
  const base = env.XDG_CONFIG_HOME && env.XDG_CONFIG_HOME.startsWith('/') ? env.XDG_CONFIG_HOME : join(homedir(), '.config');
  return join(base, 'autocode', 'config.json');
}

export function readContextFile(path = contextFilePath()): ContextFile {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { current: null, contexts: {} };
    throw new CliError(`cannot read ${path}: ${(error as Error).message}`);
  }
  try {
    const parsed = JSON.parse(text) as Partial<ContextFile>;
    return { current: parsed.current ?? null, contexts: parsed.contexts ?? {} };
  } catch {
    throw new CliError(`${path} is not valid JSON: fix or delete it, then \`autocode login\` again`);
  }
}

/** Writes the file whole (a temporary file renamed over it), readable by its owner only: it holds tokens. */
export function writeContextFile(file: ContextFile, path = contextFilePath()): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const temporary = `${path}.${process.pid}.tmp`;
  writeFileSync(temporary, JSON.stringify(file, null, 2) + '\n', { mode: 0o600 });
  chmodSync(temporary, 0o600);
  renameSync(temporary, path);
}

/** Whether remote commands have a server: `AUTOCODE_SERVER`, or a context saved by `autocode login`. */
export function serverConfigured(env: NodeJS.ProcessEnv = process.env): boolean {
  if (env.AUTOCODE_SERVER) return true;
  try {
    const file = readContextFile(contextFilePath(env));
    return Object.keys(file.contexts).length > 0;
  } catch {
    return true; // a config file that cannot be read is reported by the remote command that needs it
  }
}

/**
 * The server and token remote commands use: `AUTOCODE_SERVER` and `AUTOCODE_TOKEN` win over the
 * saved context (`--context`, else `AUTOCODE_CONTEXT`, else the one `login` chose last).
 */
export function resolveContext(name: string | undefined, env: NodeJS.ProcessEnv = process.env): Context & { name: string | null } {
  const file = readContextFile(contextFilePath(env));
  const wanted = name ?? env.AUTOCODE_CONTEXT ?? file.current ?? DEFAULT_CONTEXT;
  const saved = file.contexts[wanted];
  if ((name ?? env.AUTOCODE_CONTEXT) !== undefined && !saved && !env.AUTOCODE_SERVER) {
    const known = Object.keys(file.contexts);
    throw new CliError(`no context named "${wanted}"${known.length > 0 ? ` (known: ${known.join(', ')})` : ''}: \`autocode login --context ${wanted} --server URL --token-stdin\``, EXIT.usage);
  }
  const server = env.AUTOCODE_SERVER || saved?.server;
  const token = env.AUTOCODE_TOKEN || saved?.token;
  if (!server) {
    throw new CliError(
      'no server configured: `autocode login --server URL --token-stdin`, or set AUTOCODE_SERVER and AUTOCODE_TOKEN (a token for this machine\'s server: `autocode token create --user ID`)',
      EXIT.usage,
    );
  }
  if (!token) throw new CliError(`no token for ${server}: set AUTOCODE_TOKEN, or \`autocode login --server ${server} --token-stdin\``, EXIT.unauthorized);
  return { server: normalizeServer(server), token, name: env.AUTOCODE_SERVER ? null : wanted };
}

/** An http(s) URL without a trailing slash; anything else is a usage error. */
export function normalizeServer(value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new CliError(`"${value}" is not a URL: give the server as http://HOST:PORT or https://HOST`, EXIT.usage);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new CliError(`"${value}" is not an http or https URL`, EXIT.usage);
  if (url.username || url.password) throw new CliError('the server URL must not carry credentials: give the token with --token-stdin', EXIT.usage);
  return url.href.replace(/\/+$/, '');
}
