import { Inject } from '@nestjs/common';
import { Command, CommandRunner, Option, SubCommand } from 'nest-commander';
import { spawn } from 'node:child_process';
import { closeSync, createReadStream, mkdirSync, openSync, readFileSync, statSync, type Stats } from 'node:fs';
import { dirname } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Run } from '../../runs/entities/run.entity.js';
import { processStartTime } from '../../agents/executors/process-group.js';
import { CliError, parsePositiveInt, printJson, printTable } from '../../common/cli-output.js';
import { APP_CONFIG } from '../../config/config.module.js';
import type { AppConfig } from '../../config/configuration.js';
import { DatabaseService } from '../../database/database.service.js';
import { listNodes } from '../nodes.js';
import { readLivePidFile } from '../pid-file.js';
import { readServerState } from '../server-state.js';
import { rotateLog, serverLogFile } from '../server-log.js';

/** LSB exit status of `status` for a server that is not running. */
const EXIT_NOT_RUNNING = 3;

/**
 * Node flags of the server process, as in `npm start`, the systemd unit and the image: V8's young
 * generation grows to 3 × 4 MB rather than 3 × 16 MB under load (a server streaming to hundreds of
 * clients peaks about 20 MB lower, at no CPU cost measured in the benchmarks).
 */
const SERVER_NODE_FLAGS = ['--max-semi-space-size=4'];

const POLL_MS = 200;

function tail(file: string, lines: number, from = 0): string {
  try {
    return readFileSync(file).subarray(from).toString('utf8').split('\n').slice(-lines - 1).join('\n');
  } catch {
    return '';
  }
}

function sizeOf(file: string): number {
  let stats: Stats;
  try {
    stats = statSync(file);
  } catch {
    return 0;
  }
  return stats.size;
}

/** The address to probe for a listen address: a wildcard is reached on loopback. */
function probeHost(host: string): string {
  if (host === '0.0.0.0') return '127.0.0.1';
  if (host === '::') return '[::1]';
  return host.includes(':') ? `[${host}]` : host;
}

async function isReady(url: string): Promise<boolean> {
  // A timer of our own, not AbortSignal.timeout: that one does not keep the process alive, and a peer that
  // closes the connection at once can leave the fetch pending with nothing else to wait for.
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), 2_000);
  try {
    const response = await fetch(`${url}/health/ready`, { signal: abort.signal });
    return response.status === 200;
  } catch {
    return false;
  } finally {
    clearTimeout(timer);
  }
}

async function waitForExit(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if ((await processStartTime(pid)) === null) return true;
    await sleep(POLL_MS);
  }
  return (await processStartTime(pid)) === null;
}

/** The server's lifecycle from the outside: start in the background, stop, status, restart, logs. */
abstract class ServerCommandBase extends CommandRunner {
  constructor(@Inject(APP_CONFIG) protected readonly config: AppConfig) {
    super();
  }

  protected async start(options: { host?: string; port?: number; wait?: number }): Promise<void> {
    const running = await readLivePidFile(this.config.pidFile);
    if (running) throw new CliError(`the server is already running (pid ${running.pid})`);
    const log = serverLogFile(this.config.dataDir);
    mkdirSync(dirname(log), { recursive: true, mode: 0o700 });
    rotateLog(log);
    const host = options.host ?? this.config.http.host;
    const port = options.port ?? this.config.http.port;
    // What this server writes to the log starts here: a failure is reported from its own lines.
    const from = sizeOf(log);
    const fd = openSync(log, 'a', 0o600);
    const child = spawn(process.execPath, [...SERVER_NODE_FLAGS, process.argv[1]!, 'serve', '--host', host, '--port', String(port)], {
      detached: true,
      stdio: ['ignore', fd, fd],
      // The server writes (and rotates) its log itself; its stdout and stderr go to the same file for anything
      // printed outside the logger, such as a crash.
      env: { ...process.env, LOG_FORMAT: process.env.LOG_FORMAT ?? 'json', LOG_FILE: log },
    });
    closeSync(fd);
    let exit: string | null = null;
    child.once('exit', (code, signal) => (exit = code !== null ? `exit status ${code}` : `killed by ${signal}`));
    child.unref();
    const failure = (what: string): CliError => {
      const own = tail(log, 20, from);
      const last = own.split('\n').findLast((line) => line.trim() !== '') ?? '(nothing in the log)';
      return new CliError(`the server (pid ${child.pid}) ${what}: ${last}\nits lines in ${log}:\n${own.trimEnd()}`);
    };
    const url = `http://${probeHost(host)}:${port}`;
    const deadline = Date.now() + (options.wait ?? 30) * 1000;
    for (;;) {
      if (exit !== null) throw failure(`exited during start (${exit})`);
      // Whatever else may answer on the port, only this child's own report says it listens there: it writes
      // the server state, with its pid, once it does. Readiness is asked of it only after that.
      if (readServerState(this.config.dataDir)?.pid === child.pid && (await isReady(url))) break;
      if (Date.now() > deadline) {
        process.kill(child.pid!, 'SIGTERM');
        throw failure(`was not ready within ${options.wait ?? 30} s`);
      }
      await sleep(POLL_MS);
    }
    process.stdout.write(`started: pid ${child.pid}, ${url}, log ${log}\n`);
  }

  protected async stop(timeoutSeconds?: number): Promise<void> {
    const running = await readLivePidFile(this.config.pidFile);
    if (!running) {
      process.stdout.write('the server is not running\n');
      return;
    }
    const timeout = timeoutSeconds ?? this.config.shutdown.timeoutSeconds + 10;
    process.kill(running.pid, 'SIGTERM');
    if (await waitForExit(running.pid, timeout * 1000)) {
      process.stdout.write(`stopped (pid ${running.pid})\n`);
      return;
    }
    process.kill(running.pid, 'SIGKILL');
    await waitForExit(running.pid, 5_000);
    throw new CliError(`the server did not stop within ${timeout} s and was killed (pid ${running.pid}); its runs are marked interrupted at the next start`);
  }
}

@SubCommand({ name: 'start', description: 'start the server in the background and wait until it is ready' })
export class ServerStartCommand extends ServerCommandBase {
  async run(_args: string[], options: { host?: string; port?: number; wait?: number }): Promise<void> {
    await this.start(options);
  }

  @Option({ flags: '--host <host>', description: 'address to listen on (default HOST or 127.0.0.1)' })
  parseHost(value: string): string {
    return value;
  }

  @Option({ flags: '--port <port>', description: 'port to listen on (default PORT or 8000)' })
  parsePort(value: string): number {
    return parsePositiveInt(value, '--port');
  }

  @Option({ flags: '--wait <seconds>', description: 'how long to wait for /health/ready (default 30)' })
  parseWait(value: string): number {
    return parsePositiveInt(value, '--wait');
  }
}

@SubCommand({ name: 'stop', description: 'SIGTERM the server, wait for it to exit, SIGKILL after the timeout' })
export class ServerStopCommand extends ServerCommandBase {
  async run(_args: string[], options: { timeout?: number }): Promise<void> {
    await this.stop(options.timeout);
  }

  @Option({ flags: '--timeout <seconds>', description: 'how long to wait before SIGKILL (default SHUTDOWN_TIMEOUT_SECONDS + 10)' })
  parseTimeout(value: string): number {
    return parsePositiveInt(value, '--timeout');
  }
}

@SubCommand({ name: 'restart', description: 'stop the server, then start it' })
export class ServerRestartCommand extends ServerCommandBase {
  async run(_args: string[], options: { wait?: number }): Promise<void> {
    await this.stop();
    await this.start(options);
  }

  @Option({ flags: '--wait <seconds>', description: 'how long to wait for /health/ready (default 30)' })
  parseWait(value: string): number {
    return parsePositiveInt(value, '--wait');
  }
}

@SubCommand({ name: 'status', description: 'running or not (exit 0 or 3), pid, URL, uptime, active runs' })
export class ServerStatusCommand extends ServerCommandBase {
  constructor(
    @Inject(APP_CONFIG) config: AppConfig,
    private readonly database: DatabaseService,
  ) {
    super(config);
  }

  async run(_args: string[], options: { json?: boolean }): Promise<void> {
    const running = await readLivePidFile(this.config.pidFile);
    const state = running ? readServerState(this.config.dataDir) : null;
    const report = running
      ? {
          running: true,
          pid: running.pid,
          url: state?.url ?? null,
          startedAt: state?.startedAt ?? null,
          uptimeSeconds: state ? Math.round((Date.now() - Date.parse(state.startedAt)) / 1000) : null,
          activeRuns: await this.database.dataSource.getRepository(Run).countBy({ status: 'running', node: state?.node ?? this.config.node }),
        }
      : { running: false };
    // Every server process on this database, this machine's or not.
    const nodes = await listNodes(this.database);
    if (options.json) printJson({ ...report, nodes });
    else {
      if (report.running) {
        process.stdout.write(`running: pid ${report.pid}, ${report.url ?? 'URL unknown'}, up ${report.uptimeSeconds ?? '?'} s, ${report.activeRuns} active run(s)\n`);
      } else process.stdout.write('not running\n');
      if (nodes.length > 0) {
        process.stdout.write(`nodes on this database (${nodes.length}):\n`);
        printTable(
          nodes.map((node) => ({ node: node.name, role: node.role, running: `${node.running}/${node.capacity}`, queued: String(node.queued), version: node.version, 'last seen': node.lastSeenAt })),
          ['node', 'role', 'running', 'queued', 'version', 'last seen'],
        );
      }
    }
    if (!report.running) process.exitCode = EXIT_NOT_RUNNING;
  }

  @Option({ flags: '--json', description: 'print JSON' })
  parseJson(): boolean {
    return true;
  }
}

@SubCommand({ name: 'logs', description: "the server's log file; -f follows it" })
export class ServerLogsCommand extends ServerCommandBase {
  async run(_args: string[], options: { lines?: number; follow?: boolean }): Promise<void> {
    const file = serverLogFile(this.config.dataDir);
    let size: number;
    try {
      size = statSync(file).size;
    } catch {
      throw new CliError(`there is no log yet at ${file} (it is written by \`autocode server start\`)`);
    }
    process.stdout.write(tail(file, options.lines ?? 50));
    if (!options.follow) return;
    let inode = statSync(file).ino;
    for (;;) {
      await sleep(250);
      let stat;
      try {
        stat = statSync(file);
      } catch {
        continue;
      }
      if (stat.ino !== inode || stat.size < size) {
        inode = stat.ino;
        size = 0;
      }
      if (stat.size > size) {
        await new Promise<void>((resolve, reject) => {
          createReadStream(file, { start: size, end: stat.size - 1 }).on('data', (chunk) => process.stdout.write(chunk)).on('end', resolve).on('error', reject);
        });
        size = stat.size;
      }
    }
  }

  @Option({ flags: '-n, --lines <n>', description: 'how many lines (default 50)' })
  parseLines(value: string): number {
    return parsePositiveInt(value, '--lines');
  }

  @Option({ flags: '-f, --follow', description: 'keep printing what is appended' })
  parseFollow(): boolean {
    return true;
  }
}

@Command({
  name: 'server',
  description: 'the server in the background: start, stop, status, restart, logs',
  subCommands: [ServerStartCommand, ServerStopCommand, ServerRestartCommand, ServerStatusCommand, ServerLogsCommand],
})
export class ServerCommand extends CommandRunner {
  async run(): Promise<void> {
    this.command.help();
  }
}
