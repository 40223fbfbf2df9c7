import { Inject, Injectable, Logger, OnModuleInit } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { spawn, spawnSync, type ChildProcess, type ChildProcessByStdio } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { chownSync, lchownSync, readdirSync } from 'node:fs';
import { chmod, chown, lchown, lstat, mkdir, readdir, rm, stat } from 'node:fs/promises';
import { dirname, join, relative, sep } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import type { AgentProfile } from '../agents/agent-profiles.js';
import type { SandboxView } from '../agents/agent.view.js';
import { RUNS_AGENTS } from '../agents/agents.tokens.js';
import type { AppConfig, SandboxMode } from '../config/configuration.js';
import { ConfigurationError } from '../config/environment.js';
import { bwrapArguments, commandPaths, findExecutable, identityFiles, readSystemLayout, type SandboxMounts, type SystemLayout } from './bwrap.js';
import { ProcessLimitWatch } from './process-limit-watch.js';
import { seccompFilter } from './seccomp.js';
import { prlimitOptions, type ResourceLimits } from './resource-limits.js';

interface SandboxStatus {
  /** What SANDBOX asked for. */
  requested: SandboxMode;
  /** What agents run in on this node. */
  mode: 'bwrap' | 'none';
  /** bubblewrap's version, when it is used. */
  version: string | null;
  /** Host uid agents run as, sandboxed or not: SANDBOX_UID when the server runs as root, else the server's own. */
  hostUid: number;
  /** Why agents are not isolated, when they are not. */
  warning: string | null;
}

/** One agent process to start: the executors' request, whatever runs it. */
export interface AgentCommand {
  runId: string;
  program: string;
  args: string[];
  /** Arguments as the profile wrote them, before the prompt was put in: absolute file paths among them are shown to the agent. */
  templateArgs: string[];
  cwd: string;
  home: string;
  env: NodeJS.ProcessEnv;
  profile: Pick<AgentProfile, 'sandbox' | 'network' | 'readOnlyPaths'>;
  limits: ResourceLimits;
  /** More host paths to show read-only (the workspace's repository for a worktree). */
  readOnly: string[];
}

export type AgentProcess = ChildProcessByStdio<Writable, Readable, Readable>;

/** A started agent: its process (bubblewrap's when sandboxed) and what ended it, if a limit did. */
export interface StartedAgent {
  child: AgentProcess;
  sandboxed: boolean;
  /** A `resource_limit` error when a limit ended the agent; call once the agent has exited. */
  limitError(exitCode: number | null, signal: NodeJS.Signals | null): { code: string; message: string } | null;
  /** Stops watching the process limit; call when the agent has exited. */
  release(): void;
}

/** Exit status of a process ended by SIGXFSZ, as a shell or bubblewrap reports a child's signal. */
const SIGXFSZ_STATUS = 128 + 25;
const PROBE_TIMEOUT_MS = 10_000;

const INSTALL_HINT = 'install bubblewrap (Debian/Ubuntu: apt-get install bubblewrap; Fedora: dnf install bubblewrap) and allow unprivileged user namespaces';

/**
 * Runs agents in a bubblewrap sandbox: they see the system read-only, their
 * workspace and home, a private /tmp and nothing else of the server's data;
 * as an unprivileged uid, in their own PID/IPC/UTS namespaces, with resource
 * limits per run. `SANDBOX=auto` falls back to none (with a warning) where
 * bubblewrap is missing or does not work; `bwrap` refuses to start then.
 */
@Injectable()
export class SandboxService implements OnModuleInit {
  private readonly logger = new Logger(SandboxService.name);
  private readonly config: AppConfig['sandbox'];
  private readonly dataDir: string;
  private readonly sqliteFile: string | null;
  /**
   * Running as root: every agent, sandboxed or not, runs as SANDBOX_UID, and
   * the directories it uses are made its own. Unsandboxed, that uid is what
   * keeps the secret, the database and the server's environment out of reach.
   */
  private readonly switchUser = process.getuid?.() === 0;
  private readonly watch = new ProcessLimitWatch();
  /** The system calls agents may not make, as bubblewrap loads them; null on architectures without one. */
  private readonly seccomp = seccompFilter();
  private layout: SystemLayout = { directories: [], links: [] };
  private bwrap: string | null = null;
  private prlimit: string | null = null;
  private current: SandboxStatus;

  constructor(
    config: ConfigService<AppConfig, true>,
    @Inject(RUNS_AGENTS) private readonly runsAgents: boolean,
  ) {
    this.config = config.get('sandbox', { infer: true });
    this.dataDir = config.get('dataDir', { infer: true });
    const database = config.get('database', { infer: true });
    this.sqliteFile = database.type === 'sqlite' ? database.path : null;
    this.current = { requested: this.config.mode, mode: 'none', version: null, hostUid: this.hostUid, warning: null };
  }

  private get hostUid(): number {
    return this.switchUser ? this.config.uid : process.getuid!();
  }

  /** What clients are told of it (`GET /api/v1/agents`, `/health/detailed`). */
  view(): SandboxView {
    const { requested, mode, hostUid, warning } = this.current;
    return { requested, mode, hostUid, serverUser: !this.switchUser, warning };
  }

  async onModuleInit(): Promise<void> {
    // Only a node that runs agents needs (and checks) a sandbox.
    if (!this.runsAgents) return;
    this.prlimit = findExecutable('prlimit', '/usr/bin:/bin:/usr/sbin:/sbin');
    await this.keepDatabasePrivate();
    if (this.config.mode === 'none') {
      this.useNone(`SANDBOX=none: ${this.unsandboxed()}`);
      return;
    }
    const failure = await this.probe();
    if (failure === null) {
      this.logger.log(`agents run in bubblewrap ${this.current.version ?? ''} as host uid ${this.current.hostUid}${this.seccomp ? ', with a seccomp filter' : `; no seccomp filter is defined for ${process.arch}`}`);
      return;
    }
    if (this.config.mode === 'bwrap') {
      throw new ConfigurationError(`Invalid configuration: SANDBOX=bwrap, but bubblewrap cannot run agents here: ${failure}; ${INSTALL_HINT}, or set SANDBOX=auto`);
    }
    this.useNone(`SANDBOX=auto found no working bubblewrap (${failure}): ${this.unsandboxed()}; ${INSTALL_HINT}`);
  }

  /** What protects the server from agents that run without a sandbox, as the warning says it. */
  private unsandboxed(): string {
    if (!this.switchUser) return "agents run unsandboxed as the server's own user and can read whatever it can";
    const { uid, gid } = this.config;
    return `agents run unsandboxed as uid ${uid} and gid ${gid} (SANDBOX_UID, SANDBOX_GID) instead of root: the server's secret, database and environment are out of their reach, but they share that uid with the agents of every other user`;
  }

  /**
   * DATA_DIR becomes searchable by the agents' uid when the server runs as
   * root; the SQLite files (created 0644) must then not be readable by it,
   * which matters most to agents without a sandbox. SQLite gives its -wal and
   * -shm the database's mode.
   */
  private async keepDatabasePrivate(): Promise<void> {
    if (!this.switchUser || this.sqliteFile === null) return;
    for (const file of [this.sqliteFile, `${this.sqliteFile}-wal`, `${this.sqliteFile}-shm`]) {
      await chmod(file, 0o600).catch(() => undefined);
    }
  }

  private useNone(warning: string): void {
    this.bwrap = null;
    this.current = { requested: this.config.mode, mode: 'none', version: null, hostUid: this.hostUid, warning };
    this.logger.warn(warning);
  }

  /** Starts bubblewrap once with a workspace and home in DATA_DIR, as a run would; null when it worked, else why not. */
  private async probe(): Promise<string | null> {
    const bwrap = findExecutable(this.config.bwrap);
    if (!bwrap) return `"${this.config.bwrap}" was not found`;
    if (!this.prlimit) return 'prlimit (util-linux) was not found';
    const version = spawnSync(bwrap, ['--version'], { encoding: 'utf8', timeout: PROBE_TIMEOUT_MS });
    if (version.status !== 0) return `${bwrap} --version failed: ${(version.stderr || version.error?.message || '').trim()}`;
    this.bwrap = bwrap;
    this.layout = readSystemLayout();
    const dir = join(this.dataDir, `sandbox-probe-${randomBytes(4).toString('hex')}`);
    try {
      await mkdir(dir, { mode: 0o700 });
      await this.prepare({ cwd: dir, home: dir, readOnly: [] });
      const started = this.start({
        runId: 'probe',
        program: '/bin/sh',
        args: ['-c', ': > probe'],
        templateArgs: [],
        cwd: dir,
        home: dir,
        env: { PATH: '/usr/bin:/bin' },
        profile: { sandbox: true, network: true, readOnlyPaths: [] },
        limits: { processes: 64, openFiles: 256, fileSizeMb: 1, addressSpaceMb: null },
        readOnly: [],
      });
      let stderr = '';
      started.child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      started.child.stdout.resume();
      const exit = await Promise.race([once(started.child, 'exit'), sleep(PROBE_TIMEOUT_MS, null)]);
      started.release();
      if (exit === null) {
        started.child.kill('SIGKILL');
        return 'it did not finish within 10 s';
      }
      if (exit[0] !== 0) return stderr.trim().split('\n')[0] || `it exited with ${exit[0] ?? exit[1]}`;
      if (!(await stat(join(dir, 'probe')).then(() => true, () => false))) return 'the sandbox could not write its workspace';
      this.current = { requested: this.config.mode, mode: 'bwrap', version: version.stdout.trim().replace(/^bubblewrap\s*/, ''), hostUid: this.hostUid, warning: null };
      return null;
    } catch (error) {
      return (error as Error).message;
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  /** Whether a run of this profile runs sandboxed on this node. */
  sandboxes(profile: Pick<AgentProfile, 'sandbox'>): boolean {
    return this.current.mode === 'bwrap' && profile.sandbox;
  }

  /**
   * Readies a run's directories for its agent. As root, the agent's uid must
   * own what it writes (its workspace, its home) and pass through the
   * directories above them in DATA_DIR (search permission only: it can list
   * none of them, and inside a sandbox none of them is there).
   */
  async prepare(paths: { cwd: string; home: string; readOnly: string[] }): Promise<void> {
    if (!this.switchUser) return;
    for (const path of [paths.cwd, paths.home, ...paths.readOnly]) await this.allowSearch(path);
    await this.own(paths.cwd, this.config);
    if (paths.home !== paths.cwd) await this.own(paths.home, this.config);
  }

  /**
   * Gives a finished run's workspace back to the server when its agent ran
   * unsandboxed as SANDBOX_UID: the agents of other users, which share that
   * uid, then cannot read it. Sandboxed agents never see another's workspace.
   */
  async reclaim(profile: Pick<AgentProfile, 'sandbox'>, cwd: string): Promise<void> {
    if (!this.switchUser || this.sandboxes(profile)) return;
    try {
      await this.own(cwd, { uid: process.getuid!(), gid: process.getgid!() });
      await chmod(cwd, 0o700);
    } catch (error) {
      this.logger.warn(`${cwd} could not be given back to the server: ${(error as Error).message}`);
    }
  }

  private async allowSearch(path: string): Promise<void> {
    const rel = relative(this.dataDir, dirname(path));
    if (rel.startsWith('..')) return;
    let current = this.dataDir;
    for (const part of ['', ...(rel ? rel.split(sep) : [])]) {
      current = part ? join(current, part) : current;
      const info = await stat(current);
      if ((info.mode & 0o001) === 0) await chmod(current, (info.mode & 0o7777) | 0o001);
    }
  }

  /** Gives a tree the server has just written for an agent to the agents' uid, synchronously (while the agent is being started). */
  handOverSync(root: string): void {
    if (!this.switchUser) return;
    const { uid, gid } = this.config;
    chownSync(root, uid, gid);
    for (const entry of readdirSync(root, { recursive: true, encoding: 'utf8' })) lchownSync(join(root, entry), uid, gid);
  }

  /** Gives a directory tree to a uid; a tree it already owns at the top is left as it is. */
  private async own(root: string, { uid, gid }: { uid: number; gid: number }): Promise<void> {
    const top = await lstat(root);
    if (top.uid === uid) return;
    await chown(root, uid, gid);
    for (const entry of await readdir(root, { recursive: true })) {
      await lchown(join(root, entry), uid, gid);
    }
  }

  /** Starts an agent: in the sandbox when this node has one and the profile has not opted out, else directly. */
  start(command: AgentCommand): StartedAgent {
    return this.sandboxes(command.profile) ? this.startSandboxed(command) : this.startDirect(command);
  }

  private startDirect(command: AgentCommand): StartedAgent {
    const limits = this.prlimit ? prlimitOptions(command.limits, false) : [];
    const [program, args] = limits.length > 0 ? [this.prlimit!, [...limits, '--', command.program, ...command.args]] : [command.program, command.args];
    const child = spawn(program, args, {
      cwd: command.cwd,
      env: command.env,
      detached: true,
      stdio: ['pipe', 'pipe', 'pipe'],
      // Never root: Node drops the supplementary groups too.
      ...(this.switchUser ? { uid: this.config.uid, gid: this.config.gid } : {}),
    });
    return { child, sandboxed: false, limitError: (exitCode, signal) => fileSizeError(command.limits, exitCode, signal), release: () => {} };
  }

  private startSandboxed(command: AgentCommand): StartedAgent {
    const mounts: SandboxMounts = {
      workspace: command.cwd,
      home: command.home,
      readOnly: [...new Set([...commandPaths(command.program, command.templateArgs, command.env.PATH), ...command.profile.readOnlyPaths, ...command.readOnly])],
      network: command.profile.network,
    };
    const fds = { passwd: 3, group: 4, info: 5, ...(this.seccomp ? { seccomp: 6 } : {}) };
    const args = [
      ...bwrapArguments(mounts, this.layout, fds),
      '--',
      this.prlimit!,
      ...prlimitOptions(command.limits, true),
      '--',
      command.program,
      ...command.args,
    ];
    const child = spawn(this.bwrap!, args, {
      cwd: command.cwd,
      env: command.env,
      detached: true,
      stdio: ['pipe', 'pipe', 'pipe', 'pipe', 'pipe', 'pipe', ...(this.seccomp ? (['pipe'] as const) : [])],
      ...(this.switchUser ? { uid: this.config.uid, gid: this.config.gid } : {}),
    }) as ChildProcess as AgentProcess;
    const identity = identityFiles(command.home);
    writeDescriptor(child, fds.passwd, identity.passwd);
    writeDescriptor(child, fds.group, identity.group);
    if (this.seccomp && fds.seccomp !== undefined) writeDescriptor(child, fds.seccomp, this.seccomp);

    let exceeded = false;
    let reachedLimit = false;
    let stopWatching = (): void => {};
    let released = false;
    const processes = command.limits.processes;
    if (processes !== null) {
      void readInfo(child, fds.info).then((initPid) => {
        if (initPid === null || released) return;
        stopWatching = this.watch.watch(initPid, processes, {
          atLimit: () => (reachedLimit = true),
          exceeded: () => {
            exceeded = true;
            this.logger.warn(`run ${command.runId}: its sandbox stays at its limit of ${processes} processes; ending it`);
            try {
              process.kill(-child.pid!, 'SIGKILL');
            } catch {
              // already gone
            }
          },
        });
      });
    } else {
      (child.stdio[fds.info] as Readable | null)?.resume();
    }
    return {
      child,
      sandboxed: true,
      limitError: (exitCode, signal) => {
        // An agent that failed after its forks started failing most likely failed for that.
        if (exceeded || (reachedLimit && exitCode !== 0)) {
          return { code: 'resource_limit', message: `the agent reached its limit of ${processes} processes${exceeded ? ' and was ended' : ''}` };
        }
        return fileSizeError(command.limits, exitCode, signal);
      },
      release: () => {
        released = true;
        stopWatching();
      },
    };
  }
}

function fileSizeError(limits: ResourceLimits, exitCode: number | null, signal: NodeJS.Signals | null): { code: string; message: string } | null {
  if (limits.fileSizeMb === null || (signal !== 'SIGXFSZ' && exitCode !== SIGXFSZ_STATUS)) return null;
  return { code: 'resource_limit', message: `the agent wrote past its file size limit of ${limits.fileSizeMb} MiB` };
}

/** Hands bubblewrap a generated file on one of its descriptors. */
function writeDescriptor(child: ChildProcess, fd: number, text: string | Buffer): void {
  const stream = child.stdio[fd] as Writable | null;
  if (!stream) return;
  stream.on('error', () => {
    // bubblewrap failed before it read the file; its exit status says why.
  });
  stream.end(text);
}

/** The host pid of the sandbox's init, from bubblewrap's `--info-fd` report; null if it never came. */
async function readInfo(child: ChildProcess, fd: number): Promise<number | null> {
  const stream = child.stdio[fd] as Readable | null;
  if (!stream) return null;
  let text = '';
  stream.on('data', (chunk: Buffer) => (text += chunk.toString()));
  await Promise.race([once(stream, 'end').catch(() => undefined), once(stream, 'close').catch(() => undefined)]);
  try {
    const pid = (JSON.parse(text) as { 'child-pid'?: unknown })['child-pid'];
    return typeof pid === 'number' ? pid : null;
  } catch {
    return null;
  }
}
