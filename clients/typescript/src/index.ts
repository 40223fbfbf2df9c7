export { createClient, type AutocodeClient, type AutocodeHelpers, type ClientOptions, type RequestOptions, type SubmitOptions, type WaitOptions } from './client.js';
export { AutocodeError, parseRetryAfter, UNEXPECTED_RESPONSE, type Problem, type ProblemCode } from './errors.js';
export { EventStreamError, followRunEvents, type FollowOptions, type RetryOptions } from './follow.js';
export type { components, operations, paths } from './generated/schema.js';
export { FINAL_STATUSES, finalStatusOf, isFinalStatus, type FinalStatus, type Quota, type Run, type RunEvent, type RunListQuery, type OpenPullRequestBody, type PullRequest, type PushResult, type RunStatus, type SubmitRunBody, type ApprovalDecisionBody, type PendingApproval } from './types.js';
