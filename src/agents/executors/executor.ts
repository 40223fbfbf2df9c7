import type { ResourceLimits } from '../../sandbox/resource-limits.js';
import type { AgentProfile } from '../agent-profiles.js';
import type { RunEventType } from '../../runs/entities/run-event.entity.js';
import type { ParsedOutcome } from './output-parsers.js';
import type { RequestApproval } from './approval-gate.js';

export interface ExecutionRequest<P extends AgentProfile = AgentProfile> {
  runId: string;
  userId: string;
  prompt: string;
  model: string | null;
  profile: P;
  cwd: string;
  home: string;
  /** Host paths besides the workspace and home the agent may read (a worktree's repository). */
  readOnly: string[];
  /** The run's resource limits: its tier's, lowered by its profile's. */
  limits: ResourceLimits;
  /** The most the run may spend in USD, as the agent estimates it: the claude executor stops there; a command agent is not told. */
  budgetUsd?: number;
  graceMs: number;
  onEvent(type: RunEventType, data: Record<string, unknown>): void;
  /** How a gated tool call waits for its decision (profiles with `approvals`). */
  requestApproval?: RequestApproval;
  /** The run this one follows up: a `claude` agent resumes its session, a `command` one runs its profile's `resumeCommand`. */
  parentRunId?: string | null;
  /** Messages sent to the run while it runs (`POST /api/v1/runs/:id/messages`); only a `claude` agent reads them. */
  inbox?: RunInbox | null;
}

/** The messages sent to a running run, as the node running it receives them. */
export interface RunInbox {
  /** Hands `receive` each message that arrives from now on, in the order they were sent; `receive` answers false once the agent reads no more. */
  listen(receive: (prompt: string) => boolean): void;
  /** Looks in the database for messages not handed over yet (sent through another node), and hands them over before it resolves. */
  collect(): Promise<void>;
}

export interface ExecutionOutcome {
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  /** Set when the agent could not be started at all. */
  spawnError: { code: string; message: string } | null;
  parsed: ParsedOutcome;
}

export interface Execution {
  pgid: number | null;
  pgidStartedAt: string | null;
  /** Settles once the agent has exited, its whole process group is gone and its output is drained. */
  finished: Promise<ExecutionOutcome>;
  /** SIGTERM to the group, the grace period, then SIGKILL; resolves when the group is gone. */
  terminate(): Promise<void>;
}

/** Starts an agent for a run: the port the dispatcher depends on, one adapter per profile `executor`. */
export abstract class Executor<P extends AgentProfile = AgentProfile> {
  abstract start(request: ExecutionRequest<P>): Promise<Execution>;
}

/** An execution that never started: it has already finished with `error`. */
export function notStarted(error: { code: string; message: string }): Execution {
  return {
    pgid: null,
    pgidStartedAt: null,
    finished: Promise.resolve({ exitCode: null, signal: null, spawnError: error, parsed: {} }),
    terminate: async () => {},
  };
}
