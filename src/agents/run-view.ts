import type { Run, RunError, RunResult, RunStatus } from './entities/run.entity.js';

/** A run as clients see it (API.md "Run object"). */
export interface RunView {
  id: string;
  userId: string;
  agent: string;
  status: RunStatus;
  prompt: string;
  specId: string | null;
  workspace: string | null;
  model: string | null;
  timeoutSeconds: number;
  metadata: Record<string, unknown>;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
  durationMs: number | null;
  exitCode: number | null;
  error: RunError | null;
  result: RunResult | null;
  cancelRequested: boolean;
  node: string | null;
  /** On a named workspace: the commit the run's branch `autocode/<id>` started from. */
  baseCommit: string | null;
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
  };
}
