import type { paths } from './generated/schema.js';

type JsonBody<Response> = Response extends { content: { 'application/json': infer Body } } ? Body : never;

/** A run, as `GET /api/v1/runs/{id}` answers it. */
export type Run = JsonBody<paths['/api/v1/runs/{id}']['get']['responses'][200]>;

/** The body of `POST /api/v1/runs`: `prompt` or `specId`, and optionally the agent profile, workspace, model, timeout and metadata. */
export type SubmitRunBody = NonNullable<paths['/api/v1/runs']['post']['requestBody']>['content']['application/json'];

/** The filters of `GET /api/v1/runs`. */
export type RunListQuery = NonNullable<paths['/api/v1/runs']['get']['parameters']['query']>;

/** One event of a run: `seq` starts at 1 and has no gaps; `type` says what `data` holds. */
export type RunEvent = JsonBody<paths['/api/v1/runs/{id}/events']['get']['responses'][200]>['items'][number];

export type RunStatus = Run['status'];

/** The caller's limits and usage, as `GET /api/v1/quota` answers them. */
export type Quota = JsonBody<paths['/api/v1/quota']['get']['responses'][200]>;

/** What `POST /api/v1/runs/{id}/push` answers: the remote branch, the commit pushed, the repository. */
export type PushResult = JsonBody<paths['/api/v1/runs/{id}/push']['post']['responses'][200]>;

/** The body of `POST /api/v1/runs/{id}/pull-request`: title, body, base and draft, each optional. */
export type OpenPullRequestBody = NonNullable<paths['/api/v1/runs/{id}/pull-request']['post']['requestBody']>['content']['application/json'];

/** A pull request (GitHub) or merge request (GitLab) opened for a run's branch. */
export type PullRequest = JsonBody<paths['/api/v1/runs/{id}/pull-request']['post']['responses'][201]>;

/** The body of `POST /api/v1/runs/{id}/approvals/{approvalId}`: `allow` or `deny`, and a message the model is told with a denial. */
export type ApprovalDecisionBody = NonNullable<paths['/api/v1/runs/{id}/approvals/{approvalId}']['post']['requestBody']>['content']['application/json'];

/** A tool call a run waits on a decision for (a profile's `approvals`), as its `pendingApproval` shows it. */
export type PendingApproval = NonNullable<Run['pendingApproval']>;

/** The statuses a run never leaves. */
export const FINAL_STATUSES = ['succeeded', 'failed', 'cancelled', 'timed_out', 'interrupted'] as const satisfies readonly RunStatus[];

export type FinalStatus = (typeof FINAL_STATUSES)[number];

export function isFinalStatus(status: unknown): status is FinalStatus {
  return (FINAL_STATUSES as readonly unknown[]).includes(status);
}

/** The run's final status when this event is the one that ends it, else null. */
export function finalStatusOf(event: RunEvent): FinalStatus | null {
  if (event.type !== 'status') return null;
  const status: unknown = (event.data as Record<string, unknown>).status;
  return isFinalStatus(status) ? status : null;
}
