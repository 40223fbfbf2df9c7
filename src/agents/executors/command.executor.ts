import { Injectable } from '@nestjs/common';
import { once } from 'node:events';
import { findExecutable } from '../../sandbox/bwrap.js';
import { SandboxService, type StartedAgent } from '../../sandbox/sandbox.service.js';
import type { CommandProfile } from '../agent-profiles.js';
import { Executor, notStarted, type Execution, type ExecutionOutcome, type ExecutionRequest } from './executor.js';
import { LineSplitter } from './line-splitter.js';
import { outputParser, type ParsedOutcome } from './output-parsers.js';
import { processStartTime, terminateGroup } from './process-group.js';

/** Variables of the server's own environment an agent may see. Nothing else passes unless a profile names it. */
const BASE_ENV_ALLOWLIST = ['PATH', 'LANG', 'LC_ALL', 'LC_CTYPE', 'TZ', 'TERM', 'SSL_CERT_FILE', 'SSL_CERT_DIR', 'NODE_EXTRA_CA_CERTS'];

const E2BIG_HINT = 'its arguments and environment are larger than the system allows (the prompt is in each {prompt} of the command and in AUTOCODE_PROMPT)';

/** How long to wait for stdout/stderr to close once the agent's process group is gone. */
export const DRAIN_TIMEOUT_MS = 2_000;

export function agentEnvironment(request: Pick<ExecutionRequest, 'runId' | 'prompt' | 'profile' | 'cwd' | 'home'>, source: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const name of [...BASE_ENV_ALLOWLIST, ...request.profile.env]) {
    if (source[name] !== undefined) env[name] = source[name];
  }
  env.PATH ??= '/usr/local/bin:/usr/bin:/bin';
  env.HOME = request.home;
  env.AUTOCODE_PROMPT = request.prompt;
  env.AUTOCODE_RUN_ID = request.runId;
  env.AUTOCODE_WORKSPACE = request.cwd;
  return env;
}

export function expandArgv(template: string[], values: { prompt: string; model: string | null; runId: string }): string[] {
  return template.map((arg) =>
    arg.replace(/\{(prompt|model|runId)\}/g, (_match, key: 'prompt' | 'model' | 'runId') => values[key] ?? ''),
  );
}

/**
 * Runs any CLI agent from its argv template: no shell, in the sandbox, its
 * own process group (a new session), the run's workspace as working
 * directory, an allowlisted environment, the prompt on stdin. Every output
 * line becomes an event.
 */
@Injectable()
export class CommandExecutor extends Executor<CommandProfile> {
  constructor(private readonly sandbox: SandboxService) {
    super();
  }

  async start(request: ExecutionRequest<CommandProfile>): Promise<Execution> {
    // A follow-up runs the profile's resumeCommand (the API accepts one only for a profile that has it).
    const template = request.parentRunId && request.profile.resumeCommand ? request.profile.resumeCommand : request.profile.command;
    const [program, ...args] = expandArgv(template, {
      prompt: request.prompt,
      model: request.model ?? request.profile.model,
      runId: request.runId,
    });
    const env = agentEnvironment(request);
    // Found before it is started: behind prlimit or bubblewrap, a missing program would only be an exit status.
    if (!findExecutable(program!, env.PATH)) return notStarted({ code: 'agent_not_started', message: `${program}: ENOENT` });
    let started: StartedAgent;
    try {
      started = this.sandbox.start({
        runId: request.runId,
        program: program!,
        args,
        templateArgs: request.profile.command.slice(1),
        cwd: request.cwd,
        home: request.home,
        env,
        profile: request.profile,
        limits: request.limits,
        readOnly: request.readOnly,
      });
    } catch (error) {
      // spawn() throws at once, rather than emitting 'error', for failures such as E2BIG: argv and
      // environment over the kernel's limits, as a template naming {prompt} many times can make them.
      const code = (error as NodeJS.ErrnoException).code;
      if (code === undefined) throw error;
      return notStarted({ code: 'agent_not_started', message: code === 'E2BIG' ? `${program}: E2BIG: ${E2BIG_HINT}` : `${program}: ${code}` });
    }
    const { child } = started;
    // Listen before any await: a fast agent can exit before the next tick, and Node discards the
    // unread output of a child that has exited.
    const exited = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
    const closed = once(child, 'close');
    exited.catch(() => {});
    closed.catch(() => {});
    const parsed: ParsedOutcome = {};
    const parser = outputParser(request.profile.output);
    const stdoutLines = new LineSplitter((line) => {
      for (const event of parser.parse(line, parsed)) request.onEvent(event.type, event.data);
    });
    const stderrLines = new LineSplitter((line) => request.onEvent('stderr', { line }));
    child.stdout.on('data', (chunk: Buffer) => stdoutLines.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => stderrLines.push(chunk));
    const spawned = once(child, 'spawn').then(
      () => null,
      (error: NodeJS.ErrnoException) => ({ code: 'agent_not_started', message: `${program}: ${error.code ?? error.message}` }),
    );
    const spawnError = await spawned;
    if (spawnError) {
      started.release();
      return notStarted(spawnError);
    }
    const pgid = child.pid!;
    const pgidStartedAt = await processStartTime(pgid);

    child.stdin.on('error', () => {
      // The agent may exit or close stdin without reading its prompt; that is not an error of the run.
    });
    child.stdin.end(request.prompt);

    let terminating: Promise<void> | null = null;
    const terminate = (): Promise<void> =>
      (terminating ??= terminateGroup(pgid, request.graceMs, request.runId, { leaderLast: started.sandboxed }));

    const finished = (async (): Promise<ExecutionOutcome> => {
      const [exitCode, signal] = await exited;
      // Whatever the agent left behind in its group goes with it.
      await terminate();
      started.release();
      const limit = started.limitError(exitCode, signal);
      if (limit) parsed.error = limit;
      const drained = await Promise.race([closed.then(() => true), new Promise<false>((r) => setTimeout(r, DRAIN_TIMEOUT_MS, false))]);
      if (!drained) {
        child.stdout.destroy();
        child.stderr.destroy();
      }
      stdoutLines.end();
      stderrLines.end();
      return { exitCode, signal, spawnError: null, parsed };
    })();

    return { pgid, pgidStartedAt, finished, terminate };
  }
}
