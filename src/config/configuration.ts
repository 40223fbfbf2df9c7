import { randomBytes } from 'node:crypto';
import { chmodSync, closeSync, existsSync, mkdirSync, openSync, readFileSync, realpathSync, statSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { isInside } from '../common/paths.js';
import { ConfigurationError, validateEnvironment } from './environment.js';

export type Role = 'all' | 'api' | 'worker';
export type Tier = 'free' | 'standard' | 'premium';
export type QuotaOverflow = 'queue' | 'reject';

export interface AppConfig {
  http: { host: string; port: number };
  dataDir: string;
  role: Role;
  node: string;
  headlessMode: boolean;
  database: { type: 'sqlite'; path: string } | { type: 'postgres'; url: string };
  auth: {
    /** HS256 key, or null when tokens are verified with `publicKey`. */
    secret: string | null;
    publicKey: string | null;
    issuer: string | null;
    audience: string | null;
  };
  agents: {
    file: string | null;
    maxConcurrent: number;
    timeoutSeconds: number;
    graceSeconds: number;
  };
  quota: { defaultTier: Tier; overflow: QuotaOverflow };
  log: { level: string; format: 'json' | 'pretty'; file: string | null };
  health: { detailedPublic: boolean; minFreeMb: number };
  /** The shutdown sequence: one overall deadline; `cancel` running agents at once, or let them `drain` until it. */
  shutdown: { timeoutSeconds: number; mode: 'cancel' | 'drain' };
  pidFile: string;
  /** Requests per minute per user (per client address before authentication); 0 turns the limit off. */
  rateLimit: { perMinute: number };
  workspaces: {
    /** URL schemes a workspace may be cloned from. */
    repoSchemes: string[];
    /** Real paths of the directories a `file://` URL may point into. */
    fileRoots: string[];
    /** Hours a finished run's worktree is kept; 0 removes it as soon as the run has ended. */
    worktreeRetentionHours: number;
  };
  /**
   * Values no log line may contain: the JWT secret, the passwords of
   * `DATABASE_URL` and `REDIS_URL` (as written and decoded), and the agents'
   * API credentials.
   */
  secrets: string[];
  sandbox: {
    /** `auto`: bubblewrap when it is installed and works, else none with a warning; `bwrap`: bubblewrap or refuse to start. */
    mode: SandboxMode;
    /** Whether a profile may set `sandbox: false`. */
    allowOptOut: boolean;
    /** The bubblewrap executable: a path, or a name looked up in PATH. */
    bwrap: string;
    /** When the server runs as root, the host uid and gid the sandboxes run as (never root). */
    uid: number;
    gid: number;
  };
  webhooks: {
    /** Whether endpoints may be on this host or a private or link-local network (tests, closed networks). */
    allowPrivateNetworks: boolean;
  };
  /** Redis, when set: run events and cancellations reach every node at once instead of by polling. */
  redis: { url: string | null };
  /** The web dashboard at `/` (and its sign-in routes); off, `/` answers 404 like any unknown path. */
  ui: { enabled: boolean };
  forge: {
    /**
     * The key workspace credentials are encrypted with: `SECRETS_KEY`, else one generated once into
     * `DATA_DIR/secrets.key` (mode 0600); null for an admin command on a data directory that has none.
     */
    secretsKey: string | null;
    /** Whether a forge's API may be on this host or a private network (a self-hosted GitLab, tests). */
    allowPrivateNetworks: boolean;
    /** The server's address as users reach it, for the link back to a run in a pull request. */
    publicUrl: string;
  };
}

export type SandboxMode = 'auto' | 'bwrap' | 'none';

const SECRET_FILE = 'jwt.secret';
const SECRETS_KEY_FILE = 'secrets.key';

/** Kernel file systems: no server state belongs there, and Node's recursive mkdir loops forever inside /proc. */
const KERNEL_FILE_SYSTEMS = ['/proc', '/sys', '/dev'];

/**
 * Creates DATA_DIR (mode 0700) unless it exists, refusing a place that cannot
 * hold it. The missing directories are made one level at a time, so a
 * directory that cannot be made fails at once instead of being retried.
 */
function createDataDir(dataDir: string): void {
  const missing: string[] = [];
  let existing = dataDir;
  while (!existsSync(existing)) {
    missing.unshift(existing);
    existing = dirname(existing);
  }
  // Where the directory would really be, through any symlink on the way.
  const real = realpathSync(existing);
  const kernel = KERNEL_FILE_SYSTEMS.find((root) => real === root || real.startsWith(`${root}/`));
  if (kernel) throw new ConfigurationError(`Invalid configuration: DATA_DIR ${dataDir} is inside ${kernel}, a kernel file system`);
  try {
    for (const directory of missing) {
      try {
        mkdirSync(directory, { mode: 0o700 });
      } catch (error) {
        // Another process (the CLI beside the server) may have made it meanwhile.
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      }
    }
    if (!statSync(dataDir).isDirectory()) throw new Error('it is not a directory');
  } catch (error) {
    throw new ConfigurationError(`Invalid configuration: DATA_DIR ${dataDir} cannot be created: ${(error as Error).message}`);
  }
}

/** A URL's password as written (percent-encoded) and decoded; none when it has none or is not a URL. */
function urlPasswords(url: string | undefined): string[] {
  if (!url) return [];
  try {
    const { password } = new URL(url);
    return password ? [password, decodeURIComponent(password)] : [];
  } catch {
    return [];
  }
}

/**
 * The HS256 key: `JWT_SECRET` when set, else a 32-byte key generated once into
 * `DATA_DIR/jwt.secret` (mode 0600) and reused by every later start and by the CLI.
 */
function loadOrCreateSecret(dataDir: string): string {
  return loadOrCreateKeyFile(join(dataDir, SECRET_FILE));
}

/** A 32-byte random key written once into `file` (mode 0600), then read back on every start. */
function loadOrCreateKeyFile(file: string): string {
  try {
    const fd = openSync(file, 'wx', 0o600);
    try {
      writeSync(fd, randomBytes(32).toString('base64url'));
    } finally {
      closeSync(fd);
    }
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') {
      throw new ConfigurationError(`Invalid configuration: DATA_DIR cannot hold ${file}: ${(error as Error).message}`);
    }
  }
  if ((statSync(file).mode & 0o077) !== 0) {
    chmodSync(file, 0o600);
  }
  const secret = readFileSync(file, 'utf8').trim();
  if (Buffer.byteLength(secret) < 32) {
    throw new ConfigurationError(`Invalid configuration: ${file} holds a secret shorter than 32 bytes; delete it to generate a new one`);
  }
  return secret;
}

/**
 * The directories `file://` clones may come from, as real paths: each one
 * absolute, an existing directory, and outside DATA_DIR (which holds every
 * user's workspaces). `file` among the schemes needs at least one.
 */
function fileRoots(value: string | undefined, schemes: string[], dataDir: string): string[] {
  const entries = (value ?? '').split(',').map((entry) => entry.trim()).filter((entry) => entry.length > 0);
  if (schemes.includes('file') && entries.length === 0) {
    throw new ConfigurationError('Invalid configuration: WORKSPACE_FILE_ROOTS must name the directories file:// URLs may be cloned from, since WORKSPACE_REPO_SCHEMES includes file');
  }
  const realDataDir = realpathSync(dataDir);
  return [
    ...new Set(
      entries.map((entry) => {
        if (!isAbsolute(entry)) throw new ConfigurationError(`Invalid configuration: WORKSPACE_FILE_ROOTS must list absolute directories (got ${JSON.stringify(entry)})`);
        let real: string;
        try {
          real = realpathSync(entry);
        } catch {
          throw new ConfigurationError(`Invalid configuration: WORKSPACE_FILE_ROOTS names ${entry}, which does not exist`);
        }
        if (!statSync(real).isDirectory()) throw new ConfigurationError(`Invalid configuration: WORKSPACE_FILE_ROOTS names ${entry}, which is not a directory`);
        if (isInside(realDataDir, real)) {
          throw new ConfigurationError(`Invalid configuration: WORKSPACE_FILE_ROOTS names ${entry}, which is inside DATA_DIR`);
        }
        return real;
      }),
    ),
  ];
}

/**
 * The server's data is missing where DATA_DIR points: an admin command there would otherwise make a
 * fresh directory and secret whose tokens the real server rejects.
 */
function requireServerData(dataDir: string, needsSecret: boolean): void {
  const hint = 'set DATA_DIR to the server\'s data directory, or start a server here with `autocode serve` or `autocode server start`';
  if (!existsSync(dataDir)) throw new ConfigurationError(`no server data: DATA_DIR ${dataDir} does not exist (${hint})`);
  if (needsSecret && !existsSync(join(dataDir, SECRET_FILE))) throw new ConfigurationError(`no server data: DATA_DIR ${dataDir} holds no ${SECRET_FILE} (${hint})`);
}

export interface LoadOptions {
  /**
   * What may be made of the server's data: everything (the server, `autocode serve` and
   * `server start`), what DATA_DIR holds but not DATA_DIR itself (`db migrate`, which sets up
   * a database), or nothing (the other admin commands, which need the data there).
   */
  serverData?: 'create' | 'initialize' | 'require';
}

/** Reads and validates the environment once; throws a ConfigurationError naming the first bad variable. */
export function loadConfiguration(env: NodeJS.ProcessEnv = process.env, { serverData = 'create' }: LoadOptions = {}): AppConfig {
  const vars = validateEnvironment(env);
  if (vars.JWT_SECRET !== undefined && Buffer.byteLength(vars.JWT_SECRET) < 32) {
    throw new ConfigurationError('Invalid configuration: JWT_SECRET must be at least 32 bytes');
  }
  const dataDir = resolve(vars.DATA_DIR ?? './data');
  const publicKey = vars.JWT_PUBLIC_KEY?.replace(/\\n/g, '\n') ?? null;
  if (serverData === 'create') createDataDir(dataDir);
  else requireServerData(dataDir, serverData === 'require' && vars.JWT_SECRET === undefined && !publicKey);
  const secret = vars.JWT_SECRET ?? (publicKey ? null : loadOrCreateSecret(dataDir));
  // Only what makes server data generates the key; an admin command reads it when it is there.
  const secretsKeyFile = join(dataDir, SECRETS_KEY_FILE);
  const secretsKey = vars.SECRETS_KEY ?? (serverData === 'create' || existsSync(secretsKeyFile) ? loadOrCreateKeyFile(secretsKeyFile) : null);
  const http = { host: vars.HOST ?? '127.0.0.1', port: vars.PORT ?? 8000 };
  const prettyDefault = process.stdout.isTTY === true;
  const repoSchemes = [...new Set((vars.WORKSPACE_REPO_SCHEMES ?? 'https').split(',').map((scheme) => scheme.trim()))];
  return {
    http,
    dataDir,
    role: (vars.ROLE ?? 'all') as Role,
    node: vars.NODE_NAME ?? hostname(),
    headlessMode: vars.HEADLESS_MODE === 'true',
    database: vars.DATABASE_URL
      ? { type: 'postgres', url: vars.DATABASE_URL }
      : { type: 'sqlite', path: join(dataDir, 'autocode.db') },
    auth: {
      secret,
      publicKey,
      issuer: vars.JWT_ISSUER ?? null,
      audience: vars.JWT_AUDIENCE ?? null,
    },
    agents: {
      file: vars.AGENTS_FILE ? resolve(vars.AGENTS_FILE) : null,
      maxConcurrent: vars.MAX_CONCURRENT_AGENTS ?? 4,
      timeoutSeconds: vars.AGENT_TIMEOUT_SECONDS ?? 3600,
      graceSeconds: vars.SHUTDOWN_GRACE_SECONDS ?? 10,
    },
    quota: {
      defaultTier: (vars.QUOTA_DEFAULT_TIER ?? 'standard') as Tier,
      overflow: (vars.QUOTA_OVERFLOW ?? 'queue') as QuotaOverflow,
    },
    log: {
      level: vars.LOG_LEVEL ?? 'info',
      format: (vars.LOG_FORMAT ?? (prettyDefault ? 'pretty' : 'json')) as 'json' | 'pretty',
      file: vars.LOG_FILE ? resolve(vars.LOG_FILE) : null,
    },
    health: { detailedPublic: vars.HEALTH_DETAILED_PUBLIC === 'true', minFreeMb: vars.HEALTH_MIN_FREE_MB ?? 100 },
    rateLimit: { perMinute: vars.RATE_LIMIT_PER_MINUTE ?? 1200 },
    shutdown: { timeoutSeconds: vars.SHUTDOWN_TIMEOUT_SECONDS ?? 30, mode: (vars.SHUTDOWN_MODE ?? 'cancel') as 'cancel' | 'drain' },
    pidFile: vars.PID_FILE ? resolve(vars.PID_FILE) : join(dataDir, 'autocode.pid'),
    workspaces: {
      repoSchemes,
      fileRoots: fileRoots(vars.WORKSPACE_FILE_ROOTS, repoSchemes, dataDir),
      worktreeRetentionHours: vars.WORKTREE_RETENTION_HOURS ?? 24,
    },
    secrets: [
      ...(secret ? [secret] : []),
      ...(secretsKey ? [secretsKey] : []),
      ...urlPasswords(vars.DATABASE_URL),
      ...urlPasswords(vars.REDIS_URL),
      ...[vars.ANTHROPIC_API_KEY, vars.CLAUDE_CODE_OAUTH_TOKEN, vars.OPENAI_API_KEY].filter((value): value is string => value !== undefined),
    ],
    sandbox: {
      mode: (vars.SANDBOX ?? 'auto') as SandboxMode,
      allowOptOut: vars.SANDBOX_ALLOW_OPT_OUT === 'true',
      bwrap: vars.SANDBOX_BWRAP ?? 'bwrap',
      // 65534 is `nobody` on most systems; a dedicated uid keeps sandboxes apart from other daemons.
      uid: vars.SANDBOX_UID ?? 65534,
      gid: vars.SANDBOX_GID ?? vars.SANDBOX_UID ?? 65534,
    },
    webhooks: { allowPrivateNetworks: vars.WEBHOOK_ALLOW_PRIVATE_NETWORKS === 'true' },
    redis: { url: vars.REDIS_URL || null },
    ui: { enabled: vars.UI_ENABLED !== 'false' },
    forge: {
      secretsKey,
      allowPrivateNetworks: vars.FORGE_ALLOW_PRIVATE_NETWORKS === 'true',
      publicUrl: (vars.PUBLIC_URL ?? `http://${http.host.includes(':') ? `[${http.host}]` : http.host}:${http.port}`).replace(/\/+$/, ''),
    },
  };
}
