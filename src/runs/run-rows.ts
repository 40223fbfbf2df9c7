import type { Run, RunError, RunPullRequestState, RunResult, RunStatus } from './entities/run.entity.js';

/** A `runs` row as plain SQL returns it (SQLite gives booleans as 0/1, PostgreSQL as booleans). */
export interface RunRow {
  id: string;
  user_id: string;
  agent: string;
  status: RunStatus;
  prompt: string;
  spec_id: string | null;
  workspace: string | null;
  model: string | null;
  timeout_seconds: number;
  max_budget_usd: number | null;
  metadata: string;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
  exit_code: number | null;
  error: string | null;
  result: string | null;
  cancel_requested: boolean | number;
  node: string | null;
  pgid: number | null;
  pgid_started_at: string | null;
  last_seq: number;
  base_commit: string | null;
  worktree_removed_at: string | null;
  pull_request: string | null;
  parent_run_id: string | null;
  thread_id: string | null;
}

/** Every column of a run but its diff, which is never loaded unless asked for. */
export const RUN_COLUMNS =
  'id, user_id, agent, status, prompt, spec_id, workspace, model, timeout_seconds, max_budget_usd, metadata, created_at, started_at, finished_at, ' +
  'exit_code, error, result, cancel_requested, node, pgid, pgid_started_at, last_seq, base_commit, worktree_removed_at, pull_request, parent_run_id, thread_id';

function json<T>(text: string | null): T | null {
  return text === null ? null : (JSON.parse(text) as T);
}

/** The entity TypeORM would have built from the same row. */
export function runFromRow(row: RunRow): Run {
  return {
    id: row.id,
    userId: row.user_id,
    agent: row.agent,
    status: row.status,
    prompt: row.prompt,
    specId: row.spec_id,
    workspace: row.workspace,
    model: row.model,
    timeoutSeconds: row.timeout_seconds,
    maxBudgetUsd: row.max_budget_usd,
    metadata: json<Record<string, unknown>>(row.metadata) ?? {},
    createdAt: row.created_at,
    startedAt: row.started_at,
    finishedAt: row.finished_at,
    exitCode: row.exit_code,
    error: json<RunError>(row.error),
    result: json<RunResult>(row.result),
    cancelRequested: Boolean(row.cancel_requested),
    node: row.node,
    pgid: row.pgid,
    pgidStartedAt: row.pgid_started_at,
    lastSeq: row.last_seq,
    baseCommit: row.base_commit,
    worktreeRemovedAt: row.worktree_removed_at,
    pullRequest: json<RunPullRequestState>(row.pull_request),
    parentRunId: row.parent_run_id,
    threadId: row.thread_id,
  };
}
