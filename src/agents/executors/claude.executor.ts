import type { Options, SpawnOptions } from '@anthropic-ai/claude-agent-sdk';
import { Injectable } from '@nestjs/common';
import { once } from 'node:events';
import { realpathSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { SandboxService, type AgentProcess, type StartedAgent } from '../../sandbox/sandbox.service.js';
import { CLAUDE_CREDENTIALS, type ClaudeProfile } from '../agent-profiles.js';
import { agentEnvironment, DRAIN_TIMEOUT_MS } from './command.executor.js';
import { approvalOptions } from './approval-gate.js';
import { Executor, notStarted, type Execution, type ExecutionOutcome, type ExecutionRequest } from './executor.js';
import { LineSplitter } from './line-splitter.js';
import { claudeMessageEvents, type ParsedOutcome } from './output-parsers.js';
import { processStartTime, terminateGroup } from './process-group.js';
import { ConversationInput } from './conversation-input.js';
import { SessionTranscripts } from './session-store.js';

/** Server variables Claude Code needs to reach the API: a credential, and where the API is when it is not Anthropic's. */
const CLAUDE_API_ENV = [...CLAUDE_CREDENTIALS, 'ANTHROPIC_BASE_URL'];

/** How long a stop waits for Claude Code to end its turn (and report its cost so far) before it is aborted. */
const INTERRUPT_WAIT_MS = 1_000;

/** How long Claude Code may take to exit after its last message before its group is ended. */
const EXIT_WAIT_MS = 2_000;

/** The agent's environment: the same allowlist as any agent, plus the API credentials — nothing else of the server's. */
export function claudeEnvironment(request: ExecutionRequest<ClaudeProfile>, source: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const env = agentEnvironment(request, source);
  for (const name of CLAUDE_API_ENV) {
    if (source[name]) env[name] = source[name];
  }
  return env;
}

let runtimePaths: string[] | null = null;

/**
 * What Claude Code needs to see in a sandbox besides the system: the SDK's
 * packages (the CLI binary it ships, or its JavaScript and the files beside
 * it) and Node's own installation when it is not under /usr.
 */
function claudeRuntimePaths(): string[] {
  if (runtimePaths) return runtimePaths;
  // Resolved as a path by Node's CommonJS resolver (the SDK's exports have a `default` condition), which also works where the code runs compiled to CommonJS.
  const sdk = dirname(dirname(createRequire(import.meta.url).resolve('@anthropic-ai/claude-agent-sdk')));
  const nodePrefix = dirname(dirname(realpathSync(process.execPath)));
  runtimePaths = [sdk, ...(nodePrefix.startsWith('/usr') ? [] : [nodePrefix])];
  return runtimePaths;
}

/** The Claude Agent SDK options for a run: the profile's, with the run's workspace, model and budget. */
export function claudeOptions(request: ExecutionRequest<ClaudeProfile>, source: NodeJS.ProcessEnv = process.env): Options {
  const { profile } = request;
  const model = request.model ?? profile.model;
  return {
    cwd: request.cwd,
    ...(model ? { model } : {}),
    ...(profile.maxTurns ? { maxTurns: profile.maxTurns } : {}),
    // The SDK ends the query with an `error_max_budget_usd` result once its cost estimate passes this.
    ...(request.budgetUsd !== undefined ? { maxBudgetUsd: request.budgetUsd } : {}),
    ...(profile.allowedTools ? { allowedTools: profile.allowedTools } : {}),
    disallowedTools: profile.disallowedTools,
    permissionMode: profile.permissionMode,
    ...(profile.permissionMode === 'bypassPermissions' ? { allowDangerouslySkipPermissions: true } : {}),
    systemPrompt: { type: 'preset', preset: 'claude_code', ...(profile.appendSystemPrompt ? { append: profile.appendSystemPrompt } : {}) },
    env: claudeEnvironment(request, source),
    // The run's events are its history; a transcript in the user's home would only grow.
    persistSession: false,
  };
}

/**
 * Runs Claude Code through the Claude Agent SDK. The SDK starts the Claude
 * Code CLI as a child process; we spawn it ourselves, in its own process
 * group, so a stop ends it and everything it started the way every run
 * ends, and crash recovery can find it by its pgid. Each SDK message
 * becomes run events; the final result becomes the run's result.
 */
@Injectable()
export class ClaudeExecutor extends Executor<ClaudeProfile> {
  constructor(
    private readonly sandbox: SandboxService,
    private readonly sessions: SessionTranscripts,
  ) {
    super();
  }

  async start(request: ExecutionRequest<ClaudeProfile>): Promise<Execution> {
    if (!CLAUDE_CREDENTIALS.some((name) => process.env[name])) {
      return notStarted({
        code: 'agent_not_configured',
        message: `the "${request.profile.name}" agent needs ${CLAUDE_CREDENTIALS.join(' or ')} in the server's environment`,
      });
    }
    // The SDK is loaded the first time a claude run starts, not with the server or the CLI.
    const { query } = await import('@anthropic-ai/claude-agent-sdk');
    // The session is kept (in the database) and the prompt streamed, so that messages can follow it.
    const sessionOptions = await this.sessions.options(request, claudeOptions(request));
    if (!sessionOptions) {
      return notStarted({ code: 'session_unavailable', message: `run ${request.parentRunId} left no session transcript to continue` });
    }
    const input = new ConversationInput(request.prompt, request.inbox ?? null);
    const abortController = new AbortController();
    const stderrLines = new LineSplitter((line) => request.onEvent('stderr', { line }));
    let exited: Promise<[number | null, NodeJS.Signals | null]> = Promise.resolve([null, null]);
    let closed: Promise<unknown> = Promise.resolve();
    let reportSpawn: (started: AgentProcess | null) => void = () => {};
    const spawned = new Promise<AgentProcess | null>((resolve) => (reportSpawn = resolve));
    // Set by the SDK's spawn callback; a property, so that the type checker does not take it for always null.
    const launched: { agent: StartedAgent | null } = { agent: null };

    const conversation = query({
      prompt: input,
      options: {
        ...sessionOptions,
        ...approvalOptions(request.profile, request.requestApproval, abortController.signal),
        abortController,
        spawnClaudeCodeProcess: (options: SpawnOptions) => {
          const agent = (launched.agent = this.sandbox.start({
            runId: request.runId,
            program: options.command,
            args: options.args,
            templateArgs: options.args,
            cwd: options.cwd ?? request.cwd,
            home: request.home,
            env: this.sessions.withRunConfigDir(options.env, request),
            profile: request.profile,
            limits: request.limits,
            readOnly: [...claudeRuntimePaths(), ...request.readOnly],
          }));
          const cli = agent.child;
          // Listen at once: the CLI can exit before the SDK reads a line from it.
          exited = once(cli, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
          closed = once(cli.stderr, 'close');
          exited.catch(() => {});
          closed.catch(() => {});
          cli.stderr.on('data', (chunk: Buffer) => stderrLines.push(chunk));
          cli.once('spawn', () => reportSpawn(cli));
          cli.once('error', () => reportSpawn(null));
          return cli;
        },
      },
    });

    const parsed: ParsedOutcome = {};
    const consumed = (async (): Promise<Error | null> => {
      try {
        for await (const message of conversation) {
          input.observe(message);
          for (const event of claudeMessageEvents(message, parsed)) request.onEvent(event.type, event.data);
        }
        return null;
      } catch (error) {
        return error as Error;
      } finally {
        reportSpawn(null);
      }
    })();

    const started = await spawned;
    const sandboxed = launched.agent?.sandboxed ?? false;
    if (!started) {
      launched.agent?.release();
      const failure = await consumed;
      return notStarted({ code: 'agent_not_started', message: `claude: ${failure?.message ?? 'Claude Code did not start'}` });
    }
    const pgid = started.pid!;
    const pgidStartedAt = await processStartTime(pgid);

    let ending: Promise<void> | null = null;
    const endGroup = (): Promise<void> => (ending ??= terminateGroup(pgid, request.graceMs, request.runId, { leaderLast: sandboxed }));
    let stopping: Promise<void> | null = null;
    const terminate = (): Promise<void> =>
      (stopping ??= (async () => {
        // Ending the turn first lets Claude Code report what it has spent so far.
        await Promise.race([conversation.interrupt().catch(() => undefined), sleep(INTERRUPT_WAIT_MS)]);
        abortController.abort();
        await endGroup();
      })());

    const finished = (async (): Promise<ExecutionOutcome> => {
      const failure = await consumed;
      await Promise.race([exited, sleep(EXIT_WAIT_MS)]);
      // Whatever Claude Code left behind in its group (background shells) goes with it.
      await endGroup();
      const [exitCode, signal] = await exited;
      launched.agent?.release();
      await this.sessions.release(request).catch(() => undefined);
      const limit = launched.agent?.limitError(exitCode, signal);
      if (limit) parsed.error = limit;
      const drained = await Promise.race([closed.then(() => true), sleep(DRAIN_TIMEOUT_MS, false)]);
      if (!drained) started.stderr.destroy();
      stderrLines.end();
      // A result message already said why the agent stopped; the SDK's own error after it adds nothing.
      if (failure && !parsed.error) parsed.error = { code: 'agent_failed', message: failure.message };
      return { exitCode, signal, spawnError: null, parsed };
    })();

    return { pgid, pgidStartedAt, finished, terminate };
  }
}
