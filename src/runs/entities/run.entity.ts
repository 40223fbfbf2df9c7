import { Column, Entity, Index, PrimaryColumn } from 'typeorm';

export const RUN_STATUSES = ['queued', 'running', 'succeeded', 'failed', 'cancelled', 'timed_out', 'interrupted'] as const;
export type RunStatus = (typeof RUN_STATUSES)[number];
export const FINAL_STATUSES: readonly RunStatus[] = ['succeeded', 'failed', 'cancelled', 'timed_out', 'interrupted'];

export function isFinal(status: RunStatus): boolean {
  return FINAL_STATUSES.includes(status);
}

/** Why a run did not succeed. */
export class RunError {
  /** A stable snake_case code, e.g. `agent_failed`, `agent_not_started`, `interrupted`. */
  code: string;

  message: string;
}

/** What the agent reported at its end, as far as it did. */
export class RunResult {
  summary?: string;
  costUsd?: number;
  inputTokens?: number;
  outputTokens?: number;
  turns?: number;
}

/** A pull request (GitHub) or merge request (GitLab) opened for a run's branch. */
export class RunPullRequest {
  /** Its page on the forge. */
  url: string;
  /** Its number on GitHub; its project-scoped id (`iid`) on GitLab. */
  number: number;
  /** The pushed branch it proposes: `autocode/<run id>`. */
  branch: string;
  /** The branch it is to be merged into. */
  base: string;
  draft: boolean;
  openedAt: string;
}

/** What a run records about its pull request: asked for at submit, opened, or why it could not be. */
export interface RunPullRequestState {
  /** Submit asked for one to be opened once the run succeeds with changes. */
  requested?: { draft?: boolean; base?: string };
  opened?: RunPullRequest;
  error?: RunError;
}

/**
 * One execution of one agent profile on one prompt. Times are ISO-8601 UTC
 * strings (fixed width, so they sort and compare as text on every driver).
 */
@Entity({ name: 'runs' })
@Index('idx_runs_user_created', ['userId', 'createdAt', 'id'])
@Index('idx_runs_status_created', ['status', 'createdAt'])
@Index('idx_runs_user_status', ['userId', 'status'])
@Index('idx_runs_worktree_pending', ['finishedAt'], { where: 'base_commit IS NOT NULL AND worktree_removed_at IS NULL' })
export class Run {
  @PrimaryColumn({ type: 'varchar', length: 36 })
  id: string;

  @Column({ name: 'user_id', type: 'varchar', length: 128 })
  userId: string;

  @Column({ type: 'varchar', length: 64 })
  agent: string;

  @Column({ type: 'varchar', length: 16 })
  status: RunStatus;

  @Column({ type: 'text' })
  prompt: string;

  @Column({ name: 'spec_id', type: 'varchar', length: 128, nullable: true })
  specId: string | null;

  @Column({ type: 'varchar', length: 128, nullable: true })
  workspace: string | null;

  @Column({ type: 'varchar', length: 128, nullable: true })
  model: string | null;

  @Column({ name: 'timeout_seconds', type: 'integer' })
  timeoutSeconds: number;

  /** The most the run may spend in USD, as asked at submit; null: what its owner has left of today's budget. */
  @Column({ name: 'max_budget_usd', type: 'double precision', nullable: true })
  maxBudgetUsd: number | null;

  @Column({ type: 'simple-json' })
  metadata: Record<string, unknown>;

  @Column({ name: 'created_at', type: 'varchar', length: 32 })
  createdAt: string;

  @Column({ name: 'started_at', type: 'varchar', length: 32, nullable: true })
  startedAt: string | null;

  @Column({ name: 'finished_at', type: 'varchar', length: 32, nullable: true })
  finishedAt: string | null;

  @Column({ name: 'exit_code', type: 'integer', nullable: true })
  exitCode: number | null;

  @Column({ type: 'simple-json', nullable: true })
  error: RunError | null;

  @Column({ type: 'simple-json', nullable: true })
  result: RunResult | null;

  @Column({ name: 'cancel_requested', type: 'boolean', default: false })
  cancelRequested: boolean;

  /** The node that claimed the run. */
  @Column({ type: 'varchar', length: 64, nullable: true })
  node: string | null;

  /** Process group of the agent while it runs, with its start time, so recovery never kills a reused pid. */
  @Column({ type: 'integer', nullable: true })
  pgid: number | null;

  @Column({ name: 'pgid_started_at', type: 'varchar', length: 32, nullable: true })
  pgidStartedAt: string | null;

  /** Highest event `seq` written for this run. */
  @Column({ name: 'last_seq', type: 'integer', default: 0 })
  lastSeq: number;

  /** On a named workspace: the commit the run's worktree (branch `autocode/<id>`) started from. */
  @Column({ name: 'base_commit', type: 'varchar', length: 64, nullable: true })
  baseCommit: string | null;

  /**
   * On a named workspace: the unified diff of the run's branch against
   * `baseCommit`, stored when the run ends. Not loaded unless asked for: it can
   * be large, and lists of runs never show it.
   */
  @Column({ type: 'text', nullable: true, select: false })
  diff?: string | null;

  /** When the run's worktree was removed (WORKTREE_RETENTION_HOURS after it finished); its branch stays. */
  @Column({ name: 'worktree_removed_at', type: 'varchar', length: 32, nullable: true })
  worktreeRemovedAt: string | null;

  /** The run's pull request: asked for at submit, opened, or why it could not be. */
  @Column({ name: 'pull_request', type: 'simple-json', nullable: true })
  pullRequest: RunPullRequestState | null;

  /** The run this one follows up (`POST /api/v1/runs/:id/messages` on a finished run). */
  @Column({ name: 'parent_run_id', type: 'varchar', length: 36, nullable: true })
  parentRunId: string | null;

  /** The root of the run's thread of follow-ups; null for a root. */
  @Column({ name: 'thread_id', type: 'varchar', length: 36, nullable: true })
  threadId: string | null;
}
