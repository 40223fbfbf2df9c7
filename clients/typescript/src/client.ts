import createFetchClient, { type Client, type Middleware } from 'openapi-fetch';
import { AutocodeError } from './errors.js';
import { followRunEvents, type FollowOptions } from './follow.js';
import type { paths } from './generated/schema.js';
import type { ApprovalDecisionBody, OpenPullRequestBody, PullRequest, PushResult, Quota, Run, RunEvent, RunListQuery, SubmitRunBody } from './types.js';

export interface ClientOptions {
  /** The server's base URL, e.g. `http://127.0.0.1:8000`. */
  baseUrl: string;
  /** A bearer token, or a function that returns one for each request (to refresh it). */
  token?: string | (() => string | Promise<string>);
  /** Headers sent with every request. */
  headers?: Record<string, string>;
  /** The fetch to use (default: the global one). */
  fetch?: typeof globalThis.fetch;
}

export interface RequestOptions {
  signal?: AbortSignal;
}

export interface SubmitOptions extends RequestOptions {
  /** Makes retries of this submit safe: for 24 hours the same key and body answer the first run again. */
  idempotencyKey?: string;
}

export interface WaitOptions extends RequestOptions {
  /** Called with each event as it arrives. */
  onEvent?: (event: RunEvent) => void;
  retry?: FollowOptions['retry'];
}

export interface AutocodeHelpers {
  /** Submits a run; resolves to it as queued (or, on an idempotent replay, as it was first answered). */
  submitRun(body: SubmitRunBody, options?: SubmitOptions): Promise<Run>;
  getRun(id: string, options?: RequestOptions): Promise<Run>;
  /** Asks a queued or running run to stop; a finished one throws `run_finished`. */
  cancelRun(id: string, options?: RequestOptions): Promise<Run>;
  /** Sends a message to a run: into its live session while it runs (resolves to the run), or as a follow-up once it has finished (resolves to the new run, whose `parentRunId` is `id`). */
  sendMessage(id: string, prompt: string, options?: RequestOptions): Promise<Run>;
  /** The caller's runs, newest first, across every page (`limit` is the page size). */
  listRuns(query?: Omit<RunListQuery, 'cursor'>, options?: RequestOptions): AsyncGenerator<Run, void, undefined>;
  /** The run's events, each once and in order, until its final status; resumes after dropped connections. */
  followRun(id: string, options?: FollowOptions): AsyncGenerator<RunEvent, void, undefined>;
  /** Follows the run to its end and resolves to the finished run. */
  waitForRun(id: string, options?: WaitOptions): Promise<Run>;
  /** The run's plain-text log: stdout, stderr and agent messages in order. */
  getLogs(id: string, options?: RequestOptions): Promise<string>;
  /** The unified diff of what a finished run on a named workspace changed ('' when nothing). */
  getDiff(id: string, options?: RequestOptions): Promise<string>;
  getQuota(options?: RequestOptions): Promise<Quota>;
  /** Pushes a finished run's branch `autocode/<id>` to its workspace's repository. */
  pushRun(id: string, options?: RequestOptions): Promise<PushResult>;
  /** Pushes the run's branch if needed and opens its pull request (GitHub) or merge request (GitLab). */
  openPullRequest(id: string, body?: OpenPullRequestBody, options?: RequestOptions): Promise<PullRequest>;
  /** Allows or denies the tool call a run waits on (its `pendingApproval`); a closed one throws `approval_closed`. */
  decideApproval(id: string, approvalId: string, body: ApprovalDecisionBody, options?: RequestOptions): Promise<Run>;
}

/** The typed openapi-fetch client of every route (`GET`, `POST`, … by path), plus the helpers. */
export type AutocodeClient = Client<paths> & AutocodeHelpers;

interface Answer<T> {
  data?: T;
  error?: unknown;
  response: Response;
}

/** The answer's data, or the `AutocodeError` its problem+json describes. */
function unwrap<T>(answer: Answer<T>): T {
  if (!answer.response.ok) throw AutocodeError.fromResponse(answer.response, answer.error);
  return answer.data as T;
}

export function createClient(options: ClientOptions): AutocodeClient {
  const api = createFetchClient<paths>({ baseUrl: options.baseUrl, headers: options.headers, fetch: options.fetch });
  const { token } = options;
  if (token !== undefined) {
    const auth: Middleware = {
      async onRequest({ request }) {
        request.headers.set('authorization', `Bearer ${typeof token === 'function' ? await token() : token}`);
        return request;
      },
    };
    api.use(auth);
  }

  const helpers: AutocodeHelpers = {
    async submitRun(body, { idempotencyKey, signal } = {}) {
      return unwrap(
        await api.POST('/api/v1/runs', {
          body,
          params: { header: idempotencyKey === undefined ? {} : { 'Idempotency-Key': idempotencyKey } },
          signal,
        }),
      );
    },

    async getRun(id, { signal } = {}) {
      return unwrap(await api.GET('/api/v1/runs/{id}', { params: { path: { id } }, signal }));
    },

    async cancelRun(id, { signal } = {}) {
      return unwrap(await api.POST('/api/v1/runs/{id}/cancel', { params: { path: { id } }, signal }));
    },

    async sendMessage(id, prompt, { signal } = {}) {
      return unwrap(await api.POST('/api/v1/runs/{id}/messages', { params: { path: { id } }, body: { prompt }, signal }));
    },

    async *listRuns(query = {}, { signal } = {}) {
      let cursor: string | undefined;
      do {
        const page = unwrap(await api.GET('/api/v1/runs', { params: { query: { ...query, cursor } }, signal }));
        yield* page.items;
        cursor = page.nextCursor ?? undefined;
      } while (cursor !== undefined);
    },

    followRun(id, followOptions) {
      return followRunEvents(api, id, followOptions);
    },

    async waitForRun(id, { signal, onEvent, retry } = {}) {
      for await (const event of followRunEvents(api, id, { signal, retry })) onEvent?.(event);
      return helpers.getRun(id, { signal });
    },

    async getLogs(id, { signal } = {}) {
      return unwrap(await api.GET('/api/v1/runs/{id}/logs', { params: { path: { id } }, parseAs: 'text', signal })) ?? '';
    },

    async getDiff(id, { signal } = {}) {
      return unwrap(await api.GET('/api/v1/runs/{id}/diff', { params: { path: { id } }, parseAs: 'text', signal })) ?? '';
    },

    async getQuota({ signal } = {}) {
      return unwrap(await api.GET('/api/v1/quota', { signal }));
    },

    async pushRun(id, { signal } = {}) {
      return unwrap(await api.POST('/api/v1/runs/{id}/push', { params: { path: { id } }, signal }));
    },

    async openPullRequest(id, body = {}, { signal } = {}) {
      return unwrap(await api.POST('/api/v1/runs/{id}/pull-request', { params: { path: { id } }, body, signal }));
    },

    async decideApproval(id, approvalId, body, { signal } = {}) {
      return unwrap(await api.POST('/api/v1/runs/{id}/approvals/{approvalId}', { params: { path: { id, approvalId } }, body, signal }));
    },
  };

  return Object.assign(api, helpers);
}
