import { ApiProperty, getSchemaPath } from '@nestjs/swagger';
import type { RunEventType } from './entities/run-event.entity.js';
import { RUN_STATUSES, type Run, type RunError, type RunPullRequest, type RunResult, type RunStatus } from './entities/run.entity.js';

/** A tool call of a running agent that waits for a decision (a profile's `approvals`). */
export class PendingApproval {
  /** Decide it with `POST /api/v1/runs/{id}/approvals/{approvalId}`. */
  approvalId: string;
  /** The tool the agent wants to call, e.g. `Bash`. */
  tool: string;
  /** The arguments of the call, as the agent gave them. */
  input: Record<string, unknown>;
  requestedAt: string;
  /** When the profile's `onTimeout` applies if nobody has decided. */
  expiresAt: string;
}

/** A run as clients see it (API.md "Run object"). */
export class RunView {
  id: string;
  userId: string;
  /** The agent profile. */
  agent: string;
  // Named and in the contract's order (the plugin would inline the union in the compiler's order).
  @ApiProperty({ enum: RUN_STATUSES, enumName: 'RunStatus' })
  status: RunStatus;
  prompt: string;
  /** The spec whose spec.md was the prompt. */
  specId: string | null;
  /** The named workspace the run worked in; null for a fresh empty directory. */
  workspace: string | null;
  model: string | null;
  timeoutSeconds: number;
  /** The most the run may spend in USD (the agent's estimate), as asked at submit; null: what is left of its owner's daily budget when it starts. */
  maxBudgetUsd: number | null;
  /** What the client sent at submit, returned as is. */
  metadata: Record<string, unknown>;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
  durationMs: number | null;
  exitCode: number | null;
  error: RunError | null;
  result: RunResult | null;
  cancelRequested: boolean;
  /** The node that claimed the run. */
  node: string | null;
  /** On a named workspace: the commit the run's branch `autocode/<id>` started from. */
  baseCommit: string | null;
  /** The pull request (GitHub) or merge request (GitLab) opened for the run's branch. */
  pullRequest: RunPullRequest | null;
  /** Why the pull request asked for at submit (`pullRequest.open`) could not be opened. */
  pullRequestError: RunError | null;
  /** The run this one follows up: it continued that run's session in the same workspace. */
  parentRunId: string | null;
  /** The tool call the agent waits on a decision for, while it runs; null when none. */
  pendingApproval: PendingApproval | null;
}

/** A page of runs, newest first. */
export class RunPage {
  items: RunView[];
  /** Pass as `cursor` for the next page; null on the last one. */
  nextCursor: string | null;
}

/**
 * One event of a run (API.md "Event"); in an SSE stream, `seq` is the frame's `id` and `type` its `event`.
 * The document describes it as `RunEvent`, a union on `type` (run-event.schemas.ts).
 */
export interface RunEventView {
  /** Starts at 1 for each run and has no gaps. */
  seq: number;
  ts: string;
  type: RunEventType;
  /** By type: `status` {status, reason?}, `stdout`/`stderr` {line}, `message` {text}, `tool_use` {name, input}, `tool_result` {name?, ok, output}, `result` {summary?, costUsd?, inputTokens?, outputTokens?, turns?}. */
  data: Record<string, unknown>;
}

/** A page of a run's events, in `seq` order. */
export class RunEventPage {
  // RunEvent is the union of the event types, each with its `data` (run-event.schemas.ts).
  @ApiProperty({ type: 'array', items: { $ref: getSchemaPath('RunEvent') } })
  items: RunEventView[];
  /** Pass as `after` for the next page: the last `seq` of this one (or the `after` asked for, on an empty page). */
  nextAfter: number;
}

export function toRunView(run: Run): RunView {
  return {
    id: run.id,
    userId: run.userId,
    agent: run.agent,
    status: run.status,
    prompt: run.prompt,
    specId: run.specId,
    workspace: run.workspace,
    model: run.model,
    timeoutSeconds: run.timeoutSeconds,
    maxBudgetUsd: run.maxBudgetUsd,
    metadata: run.metadata,
    createdAt: run.createdAt,
    startedAt: run.startedAt,
    finishedAt: run.finishedAt,
    durationMs: run.startedAt && run.finishedAt ? Date.parse(run.finishedAt) - Date.parse(run.startedAt) : null,
    exitCode: run.exitCode,
    error: run.error,
    result: run.result,
    cancelRequested: run.cancelRequested,
    node: run.node,
    baseCommit: run.baseCommit,
    pullRequest: run.pullRequest?.opened ?? null,
    pullRequestError: run.pullRequest?.error ?? null,
    parentRunId: run.parentRunId ?? null,
    pendingApproval: null,
  };
}
