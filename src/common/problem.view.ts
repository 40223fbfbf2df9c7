import { RunPullRequest } from '../runs/entities/run.entity.js';

/**
 * An error response (RFC 9457 problem details), served as
 * `application/problem+json`. Beside the members below, a problem may carry
 * other extension members.
 */
export class ProblemDocument {
  /** A URI naming the kind of problem, derived from `code`. */
  type: string;

  /** The HTTP status text, e.g. `Not Found`. */
  title: string;

  /** The HTTP status code, repeated. */
  status: number;

  /** What went wrong with this request, for a human. */
  detail: string;

  /** The stable snake_case code a client switches on; each response lists the codes it can carry. */
  code: string;

  /** `validation_failed` from request validation: one message per failed constraint. */
  errors?: string[];

  /** `daily_limit`, `queue_full`, `concurrency_limit`: the limit reached; `timeout_exceeds_quota`: the longest run allowed, in seconds. */
  limit?: number;

  /** `daily_limit`, `queue_full`, `concurrency_limit`: the user's usage counted against `limit`. */
  used?: number;

  /** `budget_exhausted`, `budget_exceeds_quota`: the user's daily budget, in USD. */
  limitUsd?: number;

  /** `budget_exhausted`: what the user's runs that finished today cost, in USD (the agents' estimate). */
  usedUsd?: number;

  /** `daily_limit`, `budget_exhausted`: when the daily count and budget start again (00:00 UTC). */
  resetsAt?: string;

  /** `unknown_agent`: the agent profiles this server offers. */
  agents?: string[];

  /** `run_finished`: the run's final status; `run_active`: its status, queued or running. */
  runStatus?: string;

  /** `workspace_busy`: the workspace's queued and running runs. */
  activeRuns?: number;

  /** `clone_failed`, `push_failed`: the repository URL, without credentials. */
  repoUrl?: string;

  /** `forge_request_failed`: the HTTP status the forge's API answered; absent when it did not answer. */
  forgeStatus?: number;

  /** `pull_request_exists`: the pull request the run already has. */
  pullRequest?: RunPullRequest;

  [extension: string]: unknown;
}
