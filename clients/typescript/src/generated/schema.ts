// Generated from openapi.json by openapi-typescript: do not edit. Run `npm run generate` in clients/typescript.
/* eslint-disable */

export interface paths {
    "/api/v1/workspaces": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * List own workspaces
         * @description The caller's workspaces, newest first.
         */
        get: operations["Workspaces_list"];
        put?: never;
        /**
         * Create a workspace
         * @description Creates a named git workspace, empty (one initial commit) or cloned from `repoUrl`, with `ref` checked out. With `Idempotency-Key`, a retry with the same body answers the first answer again.
         */
        post: operations["Workspaces_create"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/workspaces/{name}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Get a workspace
         * @description One workspace, with its current `head` commit and `branch`.
         */
        get: operations["Workspaces_get"];
        put?: never;
        post?: never;
        /**
         * Delete a workspace
         * @description Deletes a workspace and its directory; its runs keep their diffs. 409 `workspace_busy` while a run of it is queued or running.
         */
        delete: operations["Workspaces_remove"];
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/workspaces/{name}/specs": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * List a workspace's specs
         * @description In the order of their numbers, all at once: a workspace holds a handful of specs.
         */
        get: operations["Workspaces_listSpecs"];
        put?: never;
        /**
         * Add a spec
         * @description Adds a spec as `.auto-claude/specs/NNN-slug/spec.md` (the next number, the title as its heading) and commits it.
         */
        post: operations["Workspaces_createSpec"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/workspaces/{name}/specs/{specId}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Get a spec
         * @description One spec; `content` is the whole spec.md.
         */
        get: operations["Workspaces_getSpec"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/session": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Get the session
         * @description The session the `autocode_session` cookie belongs to, with its CSRF token; 401 when there is none or it has ended.
         */
        get: operations["Session_current"];
        put?: never;
        /**
         * Sign in with a token
         * @description Opens a browser session for the token's user, until the token expires: the answer sets the `autocode_session` cookie (HttpOnly, SameSite=Strict) and carries the CSRF token to send in `X-CSRF-Token` on unsafe requests.
         */
        post: operations["Session_signIn"];
        /**
         * Sign out
         * @description Ends the cookie's session on the server and removes the cookie. With a live session, the request needs its CSRF token in `X-CSRF-Token`.
         */
        delete: operations["Session_signOut"];
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/session/login-link": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Sign in with a one-time link
         * @description Redeems the code of a link printed by `autocode token create --login-url` (valid once, for 15 minutes) for a browser session, as signing in with a token does.
         */
        post: operations["Session_redeem"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/quota": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Get own quota
         * @description The caller's tier, limits and current usage; the daily count resets at 00:00 UTC.
         */
        get: operations["Quota_own"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/admin/users": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * List users
         * @description Admins only: every user with role, tier, overrides and usage.
         */
        get: operations["AdminUsers_list"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/admin/users/{id}/quota": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        /**
         * Set a user's quota
         * @description Admins only: sets a user's tier or overrides its figures; `null` clears an override. The user is created when unknown.
         */
        put: operations["AdminUsers_change"];
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/runs": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * List own runs
         * @description The caller's runs, newest first, filtered by `status`, `agent` and text in the prompt (`q`); pass `nextCursor` as `cursor` for the next page.
         */
        get: operations["Runs_list"];
        put?: never;
        /**
         * Submit a run
         * @description Queues one run of an agent profile on a prompt (or a spec of a named workspace). The run starts when this node has a free slot and the user is under their concurrent limit. With `Idempotency-Key`, a retry with the same body answers the first answer again.
         */
        post: operations["Runs_submit"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/runs/{id}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Get a run
         * @description One of the caller's runs; another user's run answers 404 `run_not_found`.
         */
        get: operations["Runs_get"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/runs/{id}/cancel": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Cancel a run
         * @description Cancels a queued run at once; a running one is ended by the server within a second or two (its status then becomes `cancelled`). A finished run answers 409 `run_finished`.
         */
        post: operations["Runs_cancel"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/runs/{id}/messages": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Send a message to a run
         * @description To a queued or running `claude` run: the message goes into its live session (recorded as a `user_message` event when it reaches the agent), and the answer is the run. To a finished run: a follow-up, a new run with `parentRunId` set, of the same agent in the same workspace, continuing the same session (or running the profile's `resumeCommand`), admitted by the quota like a submit. 409 `follow_up_unsupported` for a `command` profile without `resumeCommand`.
         */
        post: operations["Runs_sendMessage"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/runs/{id}/events": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Read or follow a run's events
         * @description With `Accept: text/event-stream`: Server-Sent Events, the stored events after `Last-Event-ID` (or `after`), then live ones, closing after the final status event; each frame's `id` is the event `seq`, `event` its `type` and `data` the RunEvent as JSON. Otherwise a JSON page of events after `after`, in `seq` order.
         */
        get: operations["Runs_events"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/runs/{id}/logs": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Read a run's log
         * @description The run's stdout, stderr and agent messages as plain text, in order.
         */
        get: operations["Runs_logs"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/runs/{id}/diff": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Read a run's diff
         * @description The unified diff of what a run on a named workspace changed, once it has finished; empty when it changed nothing. 404 `diff_not_found` for a run without one.
         */
        get: operations["Runs_diff"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/admin/runs": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * List every user's runs
         * @description Admins only: the filters of `GET /api/v1/runs` plus `userId`.
         */
        get: operations["AdminRuns_list"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/agents/run": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Start a seed task
         * @deprecated
         * @description The seed's `POST /api/agents/run`: starts the `agent_type` profile on a spec of a workspace (`default` unless named) as a run. Use `POST /api/v1/runs`.
         */
        post: operations["SeedCompat_run"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/agents/status/{taskId}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Get a seed task
         * @deprecated
         * @description The seed's task status of a run; an unknown task answers 404 with `status: not_found`. Use `GET /api/v1/runs/{id}`.
         */
        get: operations["SeedCompat_status"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/agents/cancel/{taskId}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Cancel a seed task
         * @deprecated
         * @description The seed's cancel of a run. Use `POST /api/v1/runs/{id}/cancel`.
         */
        post: operations["SeedCompat_cancel"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/agents/health": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Seed health check
         * @deprecated
         * @description The seed's `GET /api/agents/health`; public. Use `GET /health/live`.
         */
        get: operations["SeedCompat_health"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/runs/{id}/approvals/{approvalId}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Decide a tool call waiting for approval
         * @description A run of a profile with `approvals` stops before each call of a gated tool until it is decided (its `pendingApproval`, and an `approval_requested` event). `allow` lets the call run; `deny` refuses it and the model is told `message`. The owner of the run or an admin decides; the agent goes on at once, on whichever node runs it. A call already decided, past its `expiresAt` (the profile's `onTimeout` applied) or of a run no longer running answers 409 `approval_closed`.
         */
        post: operations["RunApprovals_decide"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/agents": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * List the agent profiles
         * @description The profiles a run may name in `agent`, which one is the default, and whether their agents run sandboxed.
         */
        get: operations["Agents_list"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/webhooks": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * List own webhook endpoints
         * @description The caller's endpoints, without their secrets.
         */
        get: operations["Webhooks_list"];
        put?: never;
        /**
         * Register a webhook endpoint
         * @description Registers an http(s) URL of a public address for the caller's runs' events. The answer holds the signing `secret`, shown only here.
         */
        post: operations["Webhooks_create"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/webhooks/{id}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        post?: never;
        /**
         * Remove a webhook endpoint
         * @description Removes an endpoint and its deliveries.
         */
        delete: operations["Webhooks_remove"];
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/webhooks/{id}/deliveries": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * List an endpoint's deliveries
         * @description Deliveries of one endpoint, newest first, with their attempts and last answer.
         */
        get: operations["Webhooks_deliveries"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/webhooks/{id}/deliveries/{deliveryId}/redeliver": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Redeliver a delivery
         * @description Sends a delivery again now, and enables its endpoint if it was disabled.
         */
        post: operations["Webhooks_redeliver"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/workspaces/{name}/credentials": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        /**
         * Store a workspace's push credential
         * @description Stores (or replaces) the token the server pushes runs' branches and opens pull requests with. It is encrypted at rest, given to git only through the environment of the push, and never returned by any route nor given to an agent.
         */
        put: operations["WorkspaceCredentials_put"];
        post?: never;
        /**
         * Remove a workspace's push credential
         * @description Forgets the stored token; a workspace without one answers 204 too.
         */
        delete: operations["WorkspaceCredentials_remove"];
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/runs/{id}/push": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Push a run's branch
         * @description Pushes the finished run's branch `autocode/<id>` to the repository its workspace was cloned from, with the workspace's credential. 409 `nothing_to_push` when the run changed nothing, `run_active` while it is queued or running; 502 `push_failed` with git's message.
         */
        post: operations["RunPullRequests_push"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/runs/{id}/pull-request": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Open a pull request for a run
         * @description Pushes the run's branch if needed, then opens a pull request (GitHub) or merge request (GitLab) for it on the workspace's forge. The title defaults to the prompt's first line, the body to a summary of the run with a link back to it. The run records it in `pullRequest`, and webhooks get `run.pull_request_opened`.
         */
        post: operations["RunPullRequests_open"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/health/live": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Liveness
         * @description The process can serve: no dependency is checked. Public.
         */
        get: operations["Health_live"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/health/ready": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Readiness
         * @description The database, the queue and the workspace disk answer, recovery is done and the server is not draining (and, on a `ROLE=worker` node with `REDIS_URL`, Redis answers); 503 naming the failing check otherwise (Terminus shape). Public.
         */
        get: operations["Health_ready"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/health/detailed": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Detailed health report
         * @description Version, uptime, role, node, each component's state and the run counts. Needs an admin token unless the server sets `HEALTH_DETAILED_PUBLIC=true`; 503 when unhealthy.
         */
        get: operations["Health_detailed"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/metrics": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Prometheus metrics
         * @description The metrics in the Prometheus text exposition format. Public.
         */
        get: operations["Metrics_index"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
}
export type webhooks = Record<string, never>;
export interface components {
    schemas: {
        RunPullRequest: {
            /**
             * Format: uri
             * @description Its page on the forge.
             */
            url: string;
            /** @description Its number on GitHub; its project-scoped id (`iid`) on GitLab. */
            number: number;
            /** @description The pushed branch it proposes: `autocode/<run id>`. */
            branch: string;
            /** @description The branch it is to be merged into. */
            base: string;
            draft: boolean;
            /** Format: date-time */
            openedAt: string;
        };
        /**
         * @example {
         *       "type": "https://autocode.dev/problems/run-not-found",
         *       "title": "Not Found",
         *       "status": 404,
         *       "detail": "there is no run 019ab3f2-6c1e-7d42-9a51-2f0e8c7b1d34",
         *       "code": "run_not_found"
         *     }
         */
        ProblemDocument: {
            /**
             * Format: uri
             * @description A URI naming the kind of problem, derived from `code`.
             */
            type: string;
            /** @description The HTTP status text, e.g. `Not Found`. */
            title: string;
            /** @description The HTTP status code, repeated. */
            status: number;
            /** @description What went wrong with this request, for a human. */
            detail: string;
            /** @description The stable snake_case code a client switches on; each response lists the codes it can carry. */
            code: string;
            /** @description `validation_failed` from request validation: one message per failed constraint. */
            errors?: string[];
            /** @description `daily_limit`, `queue_full`, `concurrency_limit`: the limit reached; `timeout_exceeds_quota`: the longest run allowed, in seconds. */
            limit?: number;
            /** @description `daily_limit`, `queue_full`, `concurrency_limit`: the user's usage counted against `limit`. */
            used?: number;
            /** @description `budget_exhausted`, `budget_exceeds_quota`: the user's daily budget, in USD. */
            limitUsd?: number;
            /** @description `budget_exhausted`: what the user's runs that finished today cost, in USD (the agents' estimate). */
            usedUsd?: number;
            /**
             * Format: date-time
             * @description `daily_limit`, `budget_exhausted`: when the daily count and budget start again (00:00 UTC).
             */
            resetsAt?: string;
            /** @description `unknown_agent`: the agent profiles this server offers. */
            agents?: string[];
            /** @description `run_finished`: the run's final status; `run_active`: its status, queued or running. */
            runStatus?: string;
            /** @description `workspace_busy`: the workspace's queued and running runs. */
            activeRuns?: number;
            /** @description `clone_failed`, `push_failed`: the repository URL, without credentials. */
            repoUrl?: string;
            /** @description `forge_request_failed`: the HTTP status the forge's API answered; absent when it did not answer. */
            forgeStatus?: number;
            /** @description `pull_request_exists`: the pull request the run already has. */
            pullRequest?: components["schemas"]["RunPullRequest"];
        };
        WorkspaceForgeDto: {
            /** @enum {string} */
            kind: "github" | "gitlab";
            /** @description The REST API's base URL, for GitHub Enterprise (`https://github.example.com/api/v3`) or a self-hosted GitLab (`https://gitlab.example.com/api/v4`); default: github.com's or gitlab.com's. */
            apiUrl?: string;
            /** @description `owner/repo` on GitHub; the project's full path (`group/subgroup/project`) on GitLab. */
            repository: string;
        };
        /**
         * @example {
         *       "name": "my-service",
         *       "repoUrl": "https://github.com/example/my-service.git",
         *       "ref": "main",
         *       "forge": {
         *         "kind": "github",
         *         "repository": "example/my-service"
         *       }
         *     }
         */
        CreateWorkspaceDto: {
            name: string;
            repoUrl?: string;
            ref?: string;
            /** @description The GitHub or GitLab project the repository lives in, for opening its runs' pull requests. */
            forge?: components["schemas"]["WorkspaceForgeDto"];
        };
        /** @enum {string} */
        ForgeKind: "github" | "gitlab";
        WorkspaceForgeView: {
            kind: components["schemas"]["ForgeKind"];
            /**
             * Format: uri
             * @description The REST API's base URL.
             */
            apiUrl: string;
            /** @description `owner/repo` on GitHub, the project's full path on GitLab. */
            repository: string;
        };
        WorkspaceDetail: {
            /** @description The commit a run started now would branch from. */
            head: string | null;
            /** @description The checked-out branch; null on a detached HEAD (a tag or commit was checked out). */
            branch: string | null;
            name: string;
            /** @description The repository it was cloned from, without credentials; null for an empty workspace. */
            repoUrl: string | null;
            /** @description The branch, tag or commit checked out after the clone. */
            ref: string | null;
            /** Format: date-time */
            createdAt: string;
            /** @description Where its runs' pull requests are opened; null when it names no forge. */
            forge: components["schemas"]["WorkspaceForgeView"] | null;
        };
        WorkspaceView: {
            name: string;
            /** @description The repository it was cloned from, without credentials; null for an empty workspace. */
            repoUrl: string | null;
            /** @description The branch, tag or commit checked out after the clone. */
            ref: string | null;
            /** Format: date-time */
            createdAt: string;
            /** @description Where its runs' pull requests are opened; null when it names no forge. */
            forge: components["schemas"]["WorkspaceForgeView"] | null;
        };
        WorkspacePage: {
            items: components["schemas"]["WorkspaceView"][];
            /** @description Pass as `cursor` for the next page; null on the last one. */
            nextCursor: string | null;
        };
        CreateSpecDto: {
            title: string;
            /**
             * @description The spec's text: at most 98,976 bytes of UTF-8, so that spec.md, its heading of up to 600 bytes included,
             *     fits in a prompt; tab, LF and CR are its only control characters.
             */
            body: string;
        };
        SpecDetail: {
            /** @description The spec's text after its title heading. */
            body: string;
            /** @description The whole spec.md: what a run with this spec gets as its prompt. */
            content: string;
            /** @description The spec folder, e.g. `001-add-login`. */
            id: string;
            title: string;
            /** @description spec.md, relative to the workspace. */
            path: string;
        };
        SpecView: {
            /** @description The spec folder, e.g. `001-add-login`. */
            id: string;
            title: string;
            /** @description spec.md, relative to the workspace. */
            path: string;
        };
        SpecPage: {
            items: components["schemas"]["SpecView"][];
            /** @description Always null: the specs come in one page. */
            nextCursor: string | null;
        };
        SignInDto: {
            /** @description A bearer token (JWT), as `autocode token create` prints it */
            token: string;
        };
        SessionView: {
            /** @description The user the session acts as */
            userId: string;
            /** @enum {string} */
            role: "user" | "admin";
            /**
             * Format: date-time
             * @description When the session ends: when the token it was opened with expires
             */
            expiresAt: string;
            /** @description Send it back in `X-CSRF-Token` on every request other than GET, HEAD and OPTIONS that the session cookie signs in */
            csrfToken: string;
        };
        RedeemLoginLinkDto: {
            /** @description The code after `#code=` in a link printed by `autocode token create --login-url` */
            code: string;
        };
        QuotaUsage: {
            used: number;
            limit: number;
        };
        DailyQuotaUsage: {
            used: number;
            limit: number;
            /**
             * Format: date-time
             * @description The next 00:00 UTC, when the count starts again.
             */
            resetsAt: string;
        };
        BudgetUsage: {
            /** @description What the user's runs that finished since 00:00 UTC cost, as the agent (the Claude Agent SDK) estimated it. */
            usedUsd: number;
            limitUsd: number;
        };
        /**
         * @example {
         *       "tier": "standard",
         *       "concurrent": {
         *         "used": 1,
         *         "limit": 3
         *       },
         *       "queued": {
         *         "used": 0,
         *         "limit": 20
         *       },
         *       "daily": {
         *         "used": 7,
         *         "limit": 50,
         *         "resetsAt": "2026-11-25T00:00:00.000Z"
         *       },
         *       "maxRunSeconds": 3600,
         *       "budget": {
         *         "usedUsd": 3.17,
         *         "limitUsd": 20
         *       }
         *     }
         */
        QuotaSummary: {
            /** @enum {string} */
            tier: "free" | "standard" | "premium";
            /** @description Runs `running` at once. */
            concurrent: components["schemas"]["QuotaUsage"];
            /** @description Runs waiting `queued` at once (QUOTA_OVERFLOW=queue). */
            queued: components["schemas"]["QuotaUsage"];
            /** @description Runs submitted since 00:00 UTC. */
            daily: components["schemas"]["DailyQuotaUsage"];
            /** @description Longest `timeoutSeconds` a run may ask for. */
            maxRunSeconds: number;
            /** @description Today's spend against the daily budget; it resets with `daily`. */
            budget: components["schemas"]["BudgetUsage"];
        };
        QuotaOverrides: {
            /** @enum {string|null} */
            tier: "free" | "standard" | "premium" | null;
            concurrent: number | null;
            daily: number | null;
            queued: number | null;
            maxRunSeconds: number | null;
            dailyBudgetUsd: number | null;
        };
        UserQuotaView: {
            /** @enum {string} */
            tier: "free" | "standard" | "premium";
            /** @description Runs `running` at once. */
            concurrent: components["schemas"]["QuotaUsage"];
            /** @description Runs waiting `queued` at once (QUOTA_OVERFLOW=queue). */
            queued: components["schemas"]["QuotaUsage"];
            /** @description Runs submitted since 00:00 UTC. */
            daily: components["schemas"]["DailyQuotaUsage"];
            /** @description Longest `timeoutSeconds` a run may ask for. */
            maxRunSeconds: number;
            /** @description Today's spend against the daily budget; it resets with `daily`. */
            budget: components["schemas"]["BudgetUsage"];
            userId: string;
            /** @enum {string} */
            role: "user" | "admin";
            overrides: components["schemas"]["QuotaOverrides"];
            /** Format: date-time */
            createdAt: string;
            /** Format: date-time */
            lastSeenAt: string;
        };
        UserQuotaList: {
            items: components["schemas"]["UserQuotaView"][];
        };
        /**
         * @example {
         *       "tier": "premium",
         *       "daily": null
         *     }
         */
        UpdateQuotaDto: {
            /** @enum {string|null} */
            tier?: "free" | "standard" | "premium" | null;
            concurrent?: number | null;
            daily?: number | null;
            queued?: number | null;
            maxRunSeconds?: number | null;
            /** @description Dollars the user's runs may spend per UTC day. */
            dailyBudgetUsd?: number | null;
        };
        SubmitPullRequestDto: {
            /** @description Must be true: open a pull request (GitHub) or merge request (GitLab) when the run succeeds with changes. */
            open: boolean;
            draft?: boolean;
            /** @description The branch to merge into; default: the branch the workspace has checked out. */
            base?: string;
        };
        /**
         * @example {
         *       "agent": "claude",
         *       "prompt": "Fix the failing test in src/parser.ts",
         *       "workspace": "my-service",
         *       "timeoutSeconds": 600,
         *       "maxBudgetUsd": 2,
         *       "metadata": {
         *         "ci": "build-42"
         *       }
         *     }
         */
        SubmitRunDto: {
            agent?: string;
            /** @description What the agent is to do: at most 100,000 bytes of UTF-8, not only whitespace; tab, LF and CR are its only control characters. */
            prompt?: string;
            specId?: string;
            workspace?: string;
            model?: string;
            timeoutSeconds?: number;
            /** @description The most the run may spend in USD, as the agent estimates it (claude runs stop there, `budget_exceeded`): at least 0.01, at most the user's daily budget (else 400 `budget_exceeds_quota`). It starts with the smaller of this and what is left of today's budget. */
            maxBudgetUsd?: number;
            metadata?: {
                [key: string]: unknown;
            };
            /** @description Push the run's branch and open a pull request once it succeeds with changes (a named workspace with a forge). */
            pullRequest?: components["schemas"]["SubmitPullRequestDto"];
        };
        /** @enum {string} */
        RunStatus: "queued" | "running" | "succeeded" | "failed" | "cancelled" | "timed_out" | "interrupted";
        RunError: {
            /** @description A stable snake_case code, e.g. `agent_failed`, `agent_not_started`, `interrupted`. */
            code: string;
            message: string;
        };
        RunResult: {
            summary?: string;
            costUsd?: number;
            inputTokens?: number;
            outputTokens?: number;
            turns?: number;
        };
        /**
         * @example {
         *       "approvalId": "019ab3f4-0b7d-7a13-8c2e-5d9f1e0a6b47",
         *       "tool": "Bash",
         *       "input": {
         *         "command": "git push origin HEAD",
         *         "description": "Push the fix"
         *       },
         *       "requestedAt": "2026-11-24T07:10:12.004Z",
         *       "expiresAt": "2026-11-24T07:20:12.004Z"
         *     }
         */
        PendingApproval: {
            /**
             * Format: uuid
             * @description Decide it with `POST /api/v1/runs/{id}/approvals/{approvalId}`.
             */
            approvalId: string;
            /** @description The tool the agent wants to call, e.g. `Bash`. */
            tool: string;
            /** @description The arguments of the call, as the agent gave them. */
            input: {
                [key: string]: unknown;
            };
            /** Format: date-time */
            requestedAt: string;
            /**
             * Format: date-time
             * @description When the profile's `onTimeout` applies if nobody has decided.
             */
            expiresAt: string;
        };
        /**
         * @example {
         *       "id": "019ab3f2-6c1e-7d42-9a51-2f0e8c7b1d34",
         *       "userId": "alice",
         *       "agent": "claude",
         *       "status": "succeeded",
         *       "prompt": "Fix the failing test in src/parser.ts",
         *       "specId": null,
         *       "workspace": "my-service",
         *       "model": "claude-sonnet-4-5",
         *       "timeoutSeconds": 600,
         *       "maxBudgetUsd": 2,
         *       "metadata": {
         *         "ci": "build-42"
         *       },
         *       "parentRunId": null,
         *       "createdAt": "2026-11-24T07:09:26.693Z",
         *       "startedAt": "2026-11-24T07:09:26.781Z",
         *       "finishedAt": "2026-11-24T07:11:02.120Z",
         *       "durationMs": 95339,
         *       "exitCode": 0,
         *       "error": null,
         *       "result": {
         *         "summary": "Fixed the off-by-one in the tokenizer",
         *         "costUsd": 0.42,
         *         "inputTokens": 51200,
         *         "outputTokens": 3100,
         *         "turns": 12
         *       },
         *       "cancelRequested": false,
         *       "node": "host-1",
         *       "baseCommit": "9fceb02d0ae598e95dc970b74767f19372d61af8",
         *       "pullRequest": {
         *         "url": "https://github.com/example/my-service/pull/17",
         *         "number": 17,
         *         "branch": "autocode/019ab3f2-6c1e-7d42-9a51-2f0e8c7b1d34",
         *         "base": "main",
         *         "draft": false,
         *         "openedAt": "2026-11-24T07:11:04.501Z"
         *       },
         *       "pullRequestError": null,
         *       "pendingApproval": null
         *     }
         */
        RunView: {
            status: components["schemas"]["RunStatus"];
            /** Format: uuid */
            id: string;
            userId: string;
            /** @description The agent profile. */
            agent: string;
            prompt: string;
            /** @description The spec whose spec.md was the prompt. */
            specId: string | null;
            /** @description The named workspace the run worked in; null for a fresh empty directory. */
            workspace: string | null;
            model: string | null;
            timeoutSeconds: number;
            /** @description The most the run may spend in USD (the agent's estimate), as asked at submit; null: what is left of its owner's daily budget when it starts. */
            maxBudgetUsd: number | null;
            /** @description What the client sent at submit, returned as is. */
            metadata: {
                [key: string]: unknown;
            };
            /** Format: date-time */
            createdAt: string;
            /** Format: date-time */
            startedAt: string | null;
            /** Format: date-time */
            finishedAt: string | null;
            durationMs: number | null;
            exitCode: number | null;
            error: components["schemas"]["RunError"] | null;
            result: components["schemas"]["RunResult"] | null;
            cancelRequested: boolean;
            /** @description The node that claimed the run. */
            node: string | null;
            /** @description On a named workspace: the commit the run's branch `autocode/<id>` started from. */
            baseCommit: string | null;
            /** @description The pull request (GitHub) or merge request (GitLab) opened for the run's branch. */
            pullRequest: components["schemas"]["RunPullRequest"] | null;
            /** @description Why the pull request asked for at submit (`pullRequest.open`) could not be opened. */
            pullRequestError: components["schemas"]["RunError"] | null;
            /** @description The run this one follows up: it continued that run's session in the same workspace. */
            parentRunId: string | null;
            /** @description The tool call the agent waits on a decision for, while it runs; null when none. */
            pendingApproval: components["schemas"]["PendingApproval"] | null;
        };
        RunPage: {
            items: components["schemas"]["RunView"][];
            /** @description Pass as `cursor` for the next page; null on the last one. */
            nextCursor: string | null;
        };
        SendMessageDto: {
            /** @description What the agent is to do next: at most 100,000 bytes of UTF-8, not only whitespace; tab, LF and CR are its only control characters. */
            prompt: string;
        };
        RunEventPage: {
            items: components["schemas"]["RunEvent"][];
            /** @description Pass as `after` for the next page: the last `seq` of this one (or the `after` asked for, on an empty page). */
            nextAfter: number;
        };
        SeedRunDto: {
            /** @description A spec folder of the workspace, e.g. `001-add-login`. */
            spec_id: string;
            /** @enum {string} */
            agent_type: "planner" | "coder" | "qa_reviewer" | "qa_fixer";
            model?: string;
            /** @description Accepted for compatibility; every run's events are kept in full. */
            verbose?: boolean;
            /** @description Ours: the named workspace holding the spec (the seed had one project per server); default `default`. */
            workspace?: string;
        };
        SeedTaskStarted: {
            /**
             * Format: uuid
             * @description The run id.
             */
            task_id: string;
            spec_id: string;
            /** @enum {string} */
            agent_type: "planner" | "coder" | "qa_reviewer" | "qa_fixer";
            /** @enum {string} */
            status: "started";
            message: string;
        };
        SeedTask: {
            task_id: string;
            /** @enum {string} */
            status: "running" | "failed" | "cancelled" | "completed" | "not_found";
            result: components["schemas"]["RunResult"] | null;
            /** @description The run's error message. */
            error: string | null;
        };
        SeedTaskCancelled: {
            /** Format: uuid */
            task_id: string;
            /** @enum {string} */
            status: "running" | "failed" | "cancelled" | "completed" | "not_found";
            result: components["schemas"]["RunResult"] | null;
            /** @description The run's error message. */
            error: string | null;
            message: string;
        };
        SeedHealth: {
            /** @enum {string} */
            status: "ok";
            /** @enum {string} */
            endpoint: "agents";
        };
        /**
         * @example {
         *       "decision": "deny",
         *       "message": "Do not push; open a pull request instead."
         *     }
         */
        DecideApprovalDto: {
            /**
             * @description `allow` lets the tool call run; `deny` refuses it and the agent goes on without it.
             * @enum {string}
             */
            decision: "allow" | "deny";
            /** @description Told to the model with a denial (and recorded with either decision): at most 10,000 characters. */
            message?: string;
        };
        AgentView: {
            /** @description What `agent` names at submit. */
            name: string;
            /** @enum {string} */
            executor: "command" | "claude";
            description: string;
            /** @description The profile a submit without `agent` runs. */
            default: boolean;
            /** @description Whether its runs are sandboxed on this node (the node has a sandbox and the profile has not opted out). */
            sandboxed: boolean;
            /** @description Whether its runs may use the network. */
            network: boolean;
        };
        SandboxView: {
            /**
             * @description What `SANDBOX` asked for.
             * @enum {string}
             */
            requested: "auto" | "bwrap" | "none";
            /**
             * @description What agents run in here: `bwrap` (bubblewrap) or `none`.
             * @enum {string}
             */
            mode: "bwrap" | "none";
            /** @description The host uid agents run as, in a sandbox or not: `SANDBOX_UID` when the server runs as root, else the server's own. */
            hostUid: number;
            /** @description Whether that is the server's own user: then an agent without a sandbox can read whatever the server can (its secret, its database). */
            serverUser: boolean;
            /** @description Why agents are not isolated, when they are not. */
            warning: string | null;
        };
        AgentList: {
            items: components["schemas"]["AgentView"][];
            sandbox: components["schemas"]["SandboxView"];
        };
        /**
         * @example {
         *       "url": "https://ci.example.com/hooks/autocode",
         *       "events": [
         *         "run.succeeded",
         *         "run.failed"
         *       ]
         *     }
         */
        CreateWebhookDto: {
            /**
             * Format: uri
             * @description Where events are POSTed: an http or https URL of a public address.
             */
            url: string;
            /** @description The event types to send; every type when left out. */
            events?: ("run.started" | "run.succeeded" | "run.failed" | "run.cancelled" | "run.timed_out" | "run.interrupted" | "run.pull_request_opened" | "run.approval_requested")[];
        };
        /**
         * @description The event types sent to it.
         * @enum {string}
         */
        WebhookEventType: "run.started" | "run.succeeded" | "run.failed" | "run.cancelled" | "run.timed_out" | "run.interrupted" | "run.pull_request_opened" | "run.approval_requested";
        CreatedWebhookEndpoint: {
            /** @description The event types sent to it. */
            events: components["schemas"]["WebhookEventType"][];
            /** @description `whsec_…`: verifies the `webhook-signature` header (Standard Webhooks). */
            secret: string;
            /** Format: uuid */
            id: string;
            /** Format: uri */
            url: string;
            /** Format: date-time */
            createdAt: string;
            /** @description Since when its deliveries fail (none has succeeded since); null while they succeed. */
            failingSince: string | null;
            /**
             * Format: date-time
             * @description Set when it failed for 24 hours: nothing more is sent until a delivery is redelivered.
             */
            disabledAt: string | null;
            disabledReason: string | null;
        };
        WebhookEndpointView: {
            /** @description The event types sent to it. */
            events: components["schemas"]["WebhookEventType"][];
            /** Format: uuid */
            id: string;
            /** Format: uri */
            url: string;
            /** Format: date-time */
            createdAt: string;
            /** @description Since when its deliveries fail (none has succeeded since); null while they succeed. */
            failingSince: string | null;
            /**
             * Format: date-time
             * @description Set when it failed for 24 hours: nothing more is sent until a delivery is redelivered.
             */
            disabledAt: string | null;
            disabledReason: string | null;
        };
        WebhookEndpointList: {
            items: components["schemas"]["WebhookEndpointView"][];
        };
        /** @enum {string} */
        WebhookDeliveryStatus: "pending" | "succeeded" | "failed";
        WebhookDeliveryView: {
            eventType: components["schemas"]["WebhookEventType"];
            status: components["schemas"]["WebhookDeliveryStatus"];
            /** Format: uuid */
            id: string;
            /** Format: uuid */
            endpointId: string;
            attempts: number;
            /**
             * Format: date-time
             * @description When it is tried next, while pending.
             */
            nextAttemptAt: string | null;
            /** Format: date-time */
            lastAttemptAt: string | null;
            /** @description The HTTP status the endpoint answered last; null when it did not answer. */
            lastStatusCode: number | null;
            lastError: string | null;
            /** Format: date-time */
            createdAt: string;
            /** Format: date-time */
            deliveredAt: string | null;
        };
        WebhookDeliveryPage: {
            items: components["schemas"]["WebhookDeliveryView"][];
            nextCursor: string | null;
        };
        PutCredentialDto: {
            /** @enum {string} */
            kind: "token";
            /** @description An access token that may push to the repository and open pull requests (GitHub) or merge requests (GitLab). Stored encrypted, never shown again. */
            token: string;
            /** @description The user name git sends with the token over HTTP; default `x-access-token` (GitHub), `oauth2` (GitLab), else `autocode`. */
            username?: string;
        };
        WorkspaceCredentialView: {
            /** @enum {string} */
            kind: "token";
            /** @description The user name git sends with the token. */
            username: string;
            /** Format: date-time */
            updatedAt: string;
        };
        PushResultView: {
            /** @description The branch on the remote: `autocode/<run id>`. */
            branch: string;
            /** @description The commit pushed, the tip of the run's branch. */
            commit: string;
            /** @description The repository pushed to (the workspace's `repoUrl`), without credentials. */
            remote: string;
        };
        OpenPullRequestDto: {
            /** @description Default: the prompt's first line. */
            title?: string;
            /** @description Default: a summary of the run (prompt, agent, result, cost) with a link back to it. */
            body?: string;
            /** @description The branch to merge into; default: the one given at submit, else the branch the workspace has checked out. */
            base?: string;
            draft?: boolean;
        };
        HealthIndicatorState: {
            /** @enum {string} */
            status: "up" | "down";
        };
        HealthComponent: {
            /** @enum {string} */
            status: "up" | "down";
            /** @description What the probe found, or why it failed. */
            detail: {
                [key: string]: unknown;
            };
        };
        LiveStatus: {
            /** @enum {string} */
            status: "ok";
        };
        ReadinessReport: {
            /** @description The probes that are up */
            info?: {
                [key: string]: components["schemas"]["HealthIndicatorState"];
            };
            /** @description The probes that are down */
            error?: {
                [key: string]: components["schemas"]["HealthIndicatorState"];
            };
            /** @description Every probe */
            details: {
                [key: string]: components["schemas"]["HealthIndicatorState"];
            };
            /** @enum {string} */
            status: "error" | "ok" | "shutting_down" | "degraded";
        };
        NodeView: {
            /** @description NODE_NAME (several processes may share one). */
            name: string;
            /** @enum {string} */
            role: "all" | "api" | "worker";
            version: string;
            /** @description Agents it may run at once (MAX_CONCURRENT_AGENTS; 0 for ROLE=api). */
            capacity: number;
            /** @description Agents running on it. */
            running: number;
            /** @description Runs waiting that it knows of. */
            queued: number;
            /** Format: date-time */
            startedAt: string;
            /**
             * Format: date-time
             * @description Its last heartbeat (every 5 s).
             */
            lastSeenAt: string;
        };
        HealthReport: {
            /** @description Each component, by name */
            components: {
                [key: string]: components["schemas"]["HealthComponent"];
            };
            /**
             * @description `degraded` when only the queue, recovery, draining or Redis is down.
             * @enum {string}
             */
            status: "degraded" | "healthy" | "unhealthy";
            version: string;
            uptimeSeconds: number;
            /** @enum {string} */
            role: "all" | "api" | "worker";
            node: string;
            headlessMode: boolean;
            activeRuns: number;
            queuedRuns: number;
            /** @description How this node isolates agents; `warning` says when it does not. */
            sandbox: components["schemas"]["SandboxView"];
            /** @description The server processes sharing the database, heard from within the last 15 s (this one included). */
            nodes: components["schemas"]["NodeView"][];
        };
        /** @description A `status` event of a run */
        RunStatusEvent: {
            /** @description Starts at 1 for each run and has no gaps; the SSE `id` */
            seq: number;
            /** Format: date-time */
            ts: string;
            /**
             * @description The SSE `event` (enum property replaced by openapi-typescript)
             * @enum {string}
             */
            type: "status";
            data: {
                status: components["schemas"]["RunStatus"];
                /**
                 * @description Why the run ended so, e.g. `cancel_requested`, `server_shutdown`, `node_restarted`
                 * @example cancel_requested
                 */
                reason?: string;
            };
        };
        /** @description A `stdout` event of a run */
        RunStdoutEvent: {
            /** @description Starts at 1 for each run and has no gaps; the SSE `id` */
            seq: number;
            /** Format: date-time */
            ts: string;
            /**
             * @description The SSE `event` (enum property replaced by openapi-typescript)
             * @enum {string}
             */
            type: "stdout";
            data: {
                /** @description One line the agent printed, without its line end */
                line: string;
            };
        };
        /** @description A `stderr` event of a run */
        RunStderrEvent: {
            /** @description Starts at 1 for each run and has no gaps; the SSE `id` */
            seq: number;
            /** Format: date-time */
            ts: string;
            /**
             * @description The SSE `event` (enum property replaced by openapi-typescript)
             * @enum {string}
             */
            type: "stderr";
            data: {
                /** @description One line the agent printed on stderr */
                line: string;
            };
        };
        /** @description A `message` event of a run */
        RunMessageEvent: {
            /** @description Starts at 1 for each run and has no gaps; the SSE `id` */
            seq: number;
            /** Format: date-time */
            ts: string;
            /**
             * @description The SSE `event` (enum property replaced by openapi-typescript)
             * @enum {string}
             */
            type: "message";
            data: {
                /** @description The agent's prose */
                text: string;
            };
        };
        /** @description A `tool_use` event of a run */
        RunToolUseEvent: {
            /** @description Starts at 1 for each run and has no gaps; the SSE `id` */
            seq: number;
            /** Format: date-time */
            ts: string;
            /**
             * @description The SSE `event` (enum property replaced by openapi-typescript)
             * @enum {string}
             */
            type: "tool_use";
            data: {
                /**
                 * @description The tool called
                 * @example Bash
                 */
                name: string;
                /** @description The arguments, as the agent gave them (any JSON value) */
                input: unknown;
            };
        };
        /** @description A `tool_result` event of a run */
        RunToolResultEvent: {
            /** @description Starts at 1 for each run and has no gaps; the SSE `id` */
            seq: number;
            /** Format: date-time */
            ts: string;
            /**
             * @description The SSE `event` (enum property replaced by openapi-typescript)
             * @enum {string}
             */
            type: "tool_result";
            data: {
                /** @description The tool, when the agent names it */
                name?: string;
                /** @description false when the tool reported an error */
                ok: boolean;
                /** @description What the tool answered (any JSON value) */
                output: unknown;
            };
        };
        /** @description A `result` event of a run */
        RunResultEvent: {
            /** @description Starts at 1 for each run and has no gaps; the SSE `id` */
            seq: number;
            /** Format: date-time */
            ts: string;
            /**
             * @description The SSE `event` (enum property replaced by openapi-typescript)
             * @enum {string}
             */
            type: "result";
            data: components["schemas"]["RunResult"];
        };
        /** @description A `user_message` event of a run */
        RunUserMessageEvent: {
            /** @description Starts at 1 for each run and has no gaps; the SSE `id` */
            seq: number;
            /** Format: date-time */
            ts: string;
            /**
             * @description The SSE `event` (enum property replaced by openapi-typescript)
             * @enum {string}
             */
            type: "user_message";
            data: {
                /** @description A message sent to the running agent (`POST /api/v1/runs/{id}/messages`), as it reached it */
                prompt: string;
            };
        };
        /** @description A `approval_requested` event of a run */
        RunApprovalRequestedEvent: {
            /** @description Starts at 1 for each run and has no gaps; the SSE `id` */
            seq: number;
            /** Format: date-time */
            ts: string;
            /**
             * @description The SSE `event` (enum property replaced by openapi-typescript)
             * @enum {string}
             */
            type: "approval_requested";
            data: {
                /**
                 * Format: uuid
                 * @description Decide it with `POST /api/v1/runs/{id}/approvals/{approvalId}`
                 */
                approvalId: string;
                /**
                 * @description The tool the agent wants to call
                 * @example Bash
                 */
                tool: string;
                /** @description The arguments of the call (any JSON value) */
                input: unknown;
            };
        };
        /** @description A `approval_decided` event of a run */
        RunApprovalDecidedEvent: {
            /** @description Starts at 1 for each run and has no gaps; the SSE `id` */
            seq: number;
            /** Format: date-time */
            ts: string;
            /**
             * @description The SSE `event` (enum property replaced by openapi-typescript)
             * @enum {string}
             */
            type: "approval_decided";
            data: {
                /** Format: uuid */
                approvalId: string;
                /** @enum {string} */
                decision: "allow" | "deny";
                /**
                 * @description The user who decided, or `timeout` when the profile's `onTimeout` applied
                 * @example alice
                 */
                by: string;
                /** @description What the decision told the model (a denial's reason) */
                message?: string;
            };
        };
        /**
         * @description One event of a run; `type` says which, and the shape of `data`. In an SSE stream, `seq` is the frame's `id` and `type` its `event`.
         * @example {
         *       "seq": 3,
         *       "ts": "2026-11-24T07:09:26.849Z",
         *       "type": "stdout",
         *       "data": {
         *         "line": "working on: Say hello"
         *       }
         *     }
         */
        RunEvent: components["schemas"]["RunStatusEvent"] | components["schemas"]["RunStdoutEvent"] | components["schemas"]["RunStderrEvent"] | components["schemas"]["RunMessageEvent"] | components["schemas"]["RunToolUseEvent"] | components["schemas"]["RunToolResultEvent"] | components["schemas"]["RunResultEvent"] | components["schemas"]["RunUserMessageEvent"] | components["schemas"]["RunApprovalRequestedEvent"] | components["schemas"]["RunApprovalDecidedEvent"];
    };
    responses: never;
    parameters: never;
    requestBodies: never;
    headers: {
        /** @description The request's id in the server log: the client's `X-Request-Id` when it is a sane token, else one the server made */
        RequestId: string;
        /** @description The request's id in the server log; absent when Node's HTTP parser refused the request (`bad_request`, `headers_too_large`) */
        RequestIdUnlessUnparsed: string;
        /** @description Requests allowed per window (`RATE_LIMIT_PER_MINUTE`) */
        RateLimitLimit: number;
        /** @description Requests left in the current window */
        RateLimitRemaining: number;
        /** @description Seconds until the current window ends */
        RateLimitReset: number;
        /** @description Seconds to wait before trying again */
        RetryAfter: number;
        /** @description `true` when this is the stored answer to an earlier request with the same `Idempotency-Key` */
        IdempotentReplayed: "true";
    };
    pathItems: never;
}
export type $defs = Record<string, never>;
export interface operations {
    Workspaces_list: {
        parameters: {
            query?: {
                limit?: number;
                cursor?: string;
            };
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            200: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestId"];
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WorkspacePage"];
                };
            };
            /** @description Bad Request: `validation_failed` */
            400: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestIdUnlessUnparsed"];
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "validation_failed";
                    };
                };
            };
            /** @description Unauthorized: `unauthorized` */
            401: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestId"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "unauthorized";
                    };
                };
            };
            /** @description URI Too Long: `uri_too_long` */
            414: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestId"];
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "uri_too_long";
                    };
                };
            };
            /** @description Too Many Requests: `rate_limited` */
            429: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestId"];
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    "Retry-After": components["headers"]["RetryAfter"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "rate_limited";
                    };
                };
            };
            /** @description Request Header Fields Too Large: `headers_too_large` */
            431: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestIdUnlessUnparsed"];
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "headers_too_large";
                    };
                };
            };
        };
    };
    Workspaces_create: {
        parameters: {
            query?: never;
            header?: {
                /** @description Up to 255 printable ASCII characters, unique per request you mean to make once. For 24 hours a retry with the same key and body gets the first answer again, with `Idempotent-Replayed: true`, and creates nothing; the same key with another body answers 422 `idempotency_key_reused`. */
                "Idempotency-Key"?: string;
            };
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["CreateWorkspaceDto"];
            };
        };
        responses: {
            201: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestId"];
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    "Idempotent-Replayed": components["headers"]["IdempotentReplayed"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WorkspaceDetail"];
                };
            };
            /** @description Bad Request: `validation_failed`, `repo_url_not_allowed` */
            400: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestIdUnlessUnparsed"];
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "validation_failed" | "repo_url_not_allowed";
                    };
                };
            };
            /** @description Unauthorized: `unauthorized` */
            401: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestId"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "unauthorized";
                    };
                };
            };
            /** @description Forbidden: `csrf_failed` */
            403: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestId"];
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "csrf_failed";
                    };
                };
            };
            /** @description Conflict: `workspace_exists` */
            409: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestId"];
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "workspace_exists";
                    };
                };
            };
            /** @description Payload Too Large: `payload_too_large` */
            413: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestId"];
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "payload_too_large";
                    };
                };
            };
            /** @description URI Too Long: `uri_too_long` */
            414: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestId"];
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "uri_too_long";
                    };
                };
            };
            /** @description Unsupported Media Type: `unsupported_media_type` */
            415: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestId"];
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "unsupported_media_type";
                    };
                };
            };
            /** @description Unprocessable Content: `clone_failed`, `idempotency_key_reused` */
            422: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestId"];
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "clone_failed" | "idempotency_key_reused";
                    };
                };
            };
            /** @description Too Many Requests: `rate_limited` */
            429: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestId"];
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    "Retry-After": components["headers"]["RetryAfter"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "rate_limited";
                    };
                };
            };
            /** @description Request Header Fields Too Large: `headers_too_large` */
            431: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestIdUnlessUnparsed"];
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "headers_too_large";
                    };
                };
            };
        };
    };
    Workspaces_get: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                name: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            200: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestId"];
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WorkspaceDetail"];
                };
            };
            /** @description Bad Request: `validation_failed` */
            400: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestIdUnlessUnparsed"];
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "validation_failed";
                    };
                };
            };
            /** @description Unauthorized: `unauthorized` */
            401: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestId"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "unauthorized";
                    };
                };
            };
            /** @description Not Found: `workspace_not_found` */
            404: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestId"];
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "workspace_not_found";
                    };
                };
            };
            /** @description URI Too Long: `uri_too_long` */
            414: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestId"];
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "uri_too_long";
                    };
                };
            };
            /** @description Too Many Requests: `rate_limited` */
            429: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestId"];
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    "Retry-After": components["headers"]["RetryAfter"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "rate_limited";
                    };
                };
            };
            /** @description Request Header Fields Too Large: `headers_too_large` */
            431: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestIdUnlessUnparsed"];
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "headers_too_large";
                    };
                };
            };
        };
    };
    Workspaces_remove: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                name: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            204: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestId"];
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description Bad Request: `validation_failed` */
            400: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestIdUnlessUnparsed"];
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "validation_failed";
                    };
                };
            };
            /** @description Unauthorized: `unauthorized` */
            401: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestId"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "unauthorized";
                    };
                };
            };
            /** @description Forbidden: `csrf_failed` */
            403: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestId"];
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "csrf_failed";
                    };
                };
            };
            /** @description Not Found: `workspace_not_found` */
            404: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestId"];
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "workspace_not_found";
                    };
                };
            };
            /** @description Conflict: `workspace_busy` */
            409: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestId"];
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "workspace_busy";
                    };
                };
            };
            /** @description URI Too Long: `uri_too_long` */
            414: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestId"];
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "uri_too_long";
                    };
                };
            };
            /** @description Too Many Requests: `rate_limited` */
            429: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestId"];
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    "Retry-After": components["headers"]["RetryAfter"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "rate_limited";
                    };
                };
            };
            /** @description Request Header Fields Too Large: `headers_too_large` */
            431: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestIdUnlessUnparsed"];
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "headers_too_large";
                    };
                };
            };
        };
    };
    Workspaces_listSpecs: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                name: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            200: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestId"];
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["SpecPage"];
                };
            };
            /** @description Bad Request: `validation_failed` */
            400: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestIdUnlessUnparsed"];
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "validation_failed";
                    };
                };
            };
            /** @description Unauthorized: `unauthorized` */
            401: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestId"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "unauthorized";
                    };
                };
            };
            /** @description Not Found: `workspace_not_found` */
            404: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestId"];
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "workspace_not_found";
                    };
                };
            };
            /** @description URI Too Long: `uri_too_long` */
            414: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestId"];
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "uri_too_long";
                    };
                };
            };
            /** @description Too Many Requests: `rate_limited` */
            429: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestId"];
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    "Retry-After": components["headers"]["RetryAfter"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "rate_limited";
                    };
                };
            };
            /** @description Request Header Fields Too Large: `headers_too_large` */
            431: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestIdUnlessUnparsed"];
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "headers_too_large";
                    };
                };
            };
        };
    };
    Workspaces_createSpec: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                name: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["CreateSpecDto"];
            };
        };
        responses: {
            201: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestId"];
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["SpecDetail"];
                };
            };
            /** @description Bad Request: `validation_failed` */
            400: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestIdUnlessUnparsed"];
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "validation_failed";
                    };
                };
            };
            /** @description Unauthorized: `unauthorized` */
            401: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestId"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "unauthorized";
                    };
                };
            };
            /** @description Forbidden: `csrf_failed` */
            403: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestId"];
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "csrf_failed";
                    };
                };
            };
            /** @description Not Found: `workspace_not_found` */
            404: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestId"];
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "workspace_not_found";
                    };
                };
            };
            /** @description Payload Too Large: `payload_too_large` */
            413: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestId"];
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "payload_too_large";
                    };
                };
            };
            /** @description URI Too Long: `uri_too_long` */
            414: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestId"];
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "uri_too_long";
                    };
                };
            };
            /** @description Unsupported Media Type: `unsupported_media_type` */
            415: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestId"];
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "unsupported_media_type";
                    };
                };
            };
            /** @description Too Many Requests: `rate_limited` */
            429: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestId"];
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    "Retry-After": components["headers"]["RetryAfter"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "rate_limited";
                    };
                };
            };
            /** @description Request Header Fields Too Large: `headers_too_large` */
            431: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestIdUnlessUnparsed"];
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "headers_too_large";
                    };
                };
            };
        };
    };
    Workspaces_getSpec: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                name: string;
                specId: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            200: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestId"];
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["SpecDetail"];
                };
            };
            /** @description Bad Request: `validation_failed` */
            400: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestIdUnlessUnparsed"];
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "validation_failed";
                    };
                };
            };
            /** @description Unauthorized: `unauthorized` */
            401: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestId"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "unauthorized";
                    };
                };
            };
            /** @description Not Found: `workspace_not_found`, `spec_not_found` */
            404: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestId"];
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "workspace_not_found" | "spec_not_found";
                    };
                };
            };
            /** @description URI Too Long: `uri_too_long` */
            414: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestId"];
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "uri_too_long";
                    };
                };
            };
            /** @description Too Many Requests: `rate_limited` */
            429: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestId"];
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    "Retry-After": components["headers"]["RetryAfter"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "rate_limited";
                    };
                };
            };
            /** @description Request Header Fields Too Large: `headers_too_large` */
            431: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestIdUnlessUnparsed"];
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "headers_too_large";
                    };
                };
            };
        };
    };
    Session_current: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            200: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestId"];
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["SessionView"];
                };
            };
            /** @description Unauthorized: `unauthorized` */
            401: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestId"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "unauthorized";
                    };
                };
            };
            /** @description URI Too Long: `uri_too_long` */
            414: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestId"];
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "uri_too_long";
                    };
                };
            };
            /** @description Request Header Fields Too Large: `headers_too_large` */
            431: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestIdUnlessUnparsed"];
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "headers_too_large";
                    };
                };
            };
        };
    };
    Session_signIn: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["SignInDto"];
            };
        };
        responses: {
            /** @description Signed in; the answer sets the session cookie */
            200: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestId"];
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["SessionView"];
                };
            };
            /** @description Bad Request: `validation_failed` */
            400: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestIdUnlessUnparsed"];
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "validation_failed";
                    };
                };
            };
            /** @description Unauthorized: `unauthorized` */
            401: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestId"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "unauthorized";
                    };
                };
            };
            /** @description Payload Too Large: `payload_too_large` */
            413: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestId"];
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "payload_too_large";
                    };
                };
            };
            /** @description URI Too Long: `uri_too_long` */
            414: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestId"];
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "uri_too_long";
                    };
                };
            };
            /** @description Unsupported Media Type: `unsupported_media_type` */
            415: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestId"];
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "unsupported_media_type";
                    };
                };
            };
            /** @description Request Header Fields Too Large: `headers_too_large` */
            431: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestIdUnlessUnparsed"];
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "headers_too_large";
                    };
                };
            };
        };
    };
    Session_signOut: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Signed out (also when there was no session) */
            204: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestId"];
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description Forbidden: `csrf_failed` */
            403: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestId"];
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "csrf_failed";
                    };
                };
            };
            /** @description URI Too Long: `uri_too_long` */
            414: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestId"];
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "uri_too_long";
                    };
                };
            };
            /** @description Request Header Fields Too Large: `headers_too_large` */
            431: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestIdUnlessUnparsed"];
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "headers_too_large";
                    };
                };
            };
        };
    };
    Session_redeem: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["RedeemLoginLinkDto"];
            };
        };
        responses: {
            /** @description Signed in; the answer sets the session cookie */
            200: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestId"];
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["SessionView"];
                };
            };
            /** @description Bad Request: `validation_failed`, `login_link_invalid` */
            400: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestIdUnlessUnparsed"];
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "validation_failed" | "login_link_invalid";
                    };
                };
            };
            /** @description Payload Too Large: `payload_too_large` */
            413: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestId"];
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "payload_too_large";
                    };
                };
            };
            /** @description URI Too Long: `uri_too_long` */
            414: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestId"];
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "uri_too_long";
                    };
                };
            };
            /** @description Unsupported Media Type: `unsupported_media_type` */
            415: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestId"];
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "unsupported_media_type";
                    };
                };
            };
            /** @description Request Header Fields Too Large: `headers_too_large` */
            431: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestIdUnlessUnparsed"];
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "headers_too_large";
                    };
                };
            };
        };
    };
    Quota_own: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            200: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestId"];
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["QuotaSummary"];
                };
            };
            /** @description Unauthorized: `unauthorized` */
            401: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestId"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "unauthorized";
                    };
                };
            };
            /** @description URI Too Long: `uri_too_long` */
            414: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestId"];
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "uri_too_long";
                    };
                };
            };
            /** @description Too Many Requests: `rate_limited` */
            429: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestId"];
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    "Retry-After": components["headers"]["RetryAfter"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "rate_limited";
                    };
                };
            };
            /** @description Request Header Fields Too Large: `headers_too_large` */
            431: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestIdUnlessUnparsed"];
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "headers_too_large";
                    };
                };
            };
        };
    };
    AdminUsers_list: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            200: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestId"];
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["UserQuotaList"];
                };
            };
            /** @description Unauthorized: `unauthorized` */
            401: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestId"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "unauthorized";
                    };
                };
            };
            /** @description Forbidden: `forbidden` */
            403: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestId"];
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "forbidden";
                    };
                };
            };
            /** @description URI Too Long: `uri_too_long` */
            414: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestId"];
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "uri_too_long";
                    };
                };
            };
            /** @description Too Many Requests: `rate_limited` */
            429: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestId"];
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    "Retry-After": components["headers"]["RetryAfter"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "rate_limited";
                    };
                };
            };
            /** @description Request Header Fields Too Large: `headers_too_large` */
            431: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestIdUnlessUnparsed"];
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "headers_too_large";
                    };
                };
            };
        };
    };
    AdminUsers_change: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                id: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["UpdateQuotaDto"];
            };
        };
        responses: {
            200: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestId"];
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["UserQuotaView"];
                };
            };
            /** @description Bad Request: `validation_failed` */
            400: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestIdUnlessUnparsed"];
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "validation_failed";
                    };
                };
            };
            /** @description Unauthorized: `unauthorized` */
            401: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestId"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "unauthorized";
                    };
                };
            };
            /** @description Forbidden: `forbidden`, `csrf_failed` */
            403: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestId"];
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "forbidden" | "csrf_failed";
                    };
                };
            };
            /** @description Payload Too Large: `payload_too_large` */
            413: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestId"];
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "payload_too_large";
                    };
                };
            };
            /** @description URI Too Long: `uri_too_long` */
            414: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestId"];
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "uri_too_long";
                    };
                };
            };
            /** @description Unsupported Media Type: `unsupported_media_type` */
            415: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestId"];
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "unsupported_media_type";
                    };
                };
            };
            /** @description Too Many Requests: `rate_limited` */
            429: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestId"];
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    "Retry-After": components["headers"]["RetryAfter"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "rate_limited";
                    };
                };
            };
            /** @description Request Header Fields Too Large: `headers_too_large` */
            431: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestIdUnlessUnparsed"];
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "headers_too_large";
                    };
                };
            };
        };
    };
    Runs_list: {
        parameters: {
            query?: {
                status?: "queued" | "running" | "succeeded" | "failed" | "cancelled" | "timed_out" | "interrupted";
                agent?: string;
                /** @description Only runs whose prompt contains this text (case-insensitive) */
                q?: string;
                limit?: number;
                cursor?: string;
                /** @description Only the thread of this root run: the root and its follow-ups, at any depth */
                thread?: string;
            };
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            200: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestId"];
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["RunPage"];
                };
            };
            /** @description Bad Request: `validation_failed` */
            400: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestIdUnlessUnparsed"];
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "validation_failed";
                    };
                };
            };
            /** @description Unauthorized: `unauthorized` */
            401: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestId"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "unauthorized";
                    };
                };
            };
            /** @description URI Too Long: `uri_too_long` */
            414: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestId"];
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "uri_too_long";
                    };
                };
            };
            /** @description Too Many Requests: `rate_limited` */
            429: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestId"];
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    "Retry-After": components["headers"]["RetryAfter"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "rate_limited";
                    };
                };
            };
            /** @description Request Header Fields Too Large: `headers_too_large` */
            431: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestIdUnlessUnparsed"];
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "headers_too_large";
                    };
                };
            };
        };
    };
    Runs_submit: {
        parameters: {
            query?: never;
            header?: {
                /** @description Up to 255 printable ASCII characters, unique per request you mean to make once. For 24 hours a retry with the same key and body gets the first answer again, with `Idempotent-Replayed: true`, and creates nothing; the same key with another body answers 422 `idempotency_key_reused`. */
                "Idempotency-Key"?: string;
            };
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["SubmitRunDto"];
            };
        };
        responses: {
            202: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestId"];
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    "Idempotent-Replayed": components["headers"]["IdempotentReplayed"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["RunView"];
                };
            };
            /** @description Bad Request: `validation_failed`, `unknown_agent`, `timeout_exceeds_quota`, `budget_exceeds_quota` */
            400: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestIdUnlessUnparsed"];
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "validation_failed" | "unknown_agent" | "timeout_exceeds_quota" | "budget_exceeds_quota";
                    };
                };
            };
            /** @description Unauthorized: `unauthorized` */
            401: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestId"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "unauthorized";
                    };
                };
            };
            /** @description Forbidden: `csrf_failed` */
            403: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestId"];
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "csrf_failed";
                    };
                };
            };
            /** @description Not Found: `workspace_not_found`, `spec_not_found` */
            404: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestId"];
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "workspace_not_found" | "spec_not_found";
                    };
                };
            };
            /** @description Payload Too Large: `payload_too_large` */
            413: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestId"];
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "payload_too_large";
                    };
                };
            };
            /** @description URI Too Long: `uri_too_long` */
            414: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestId"];
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "uri_too_long";
                    };
                };
            };
            /** @description Unsupported Media Type: `unsupported_media_type` */
            415: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestId"];
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "unsupported_media_type";
                    };
                };
            };
            /** @description Unprocessable Content: `idempotency_key_reused` */
            422: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestId"];
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "idempotency_key_reused";
                    };
                };
            };
            /** @description Too Many Requests: `daily_limit`, `budget_exhausted`, `queue_full`, `concurrency_limit`, `rate_limited` */
            429: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestId"];
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    "Retry-After": components["headers"]["RetryAfter"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "daily_limit" | "budget_exhausted" | "queue_full" | "concurrency_limit" | "rate_limited";
                    };
                };
            };
            /** @description Request Header Fields Too Large: `headers_too_large` */
            431: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestIdUnlessUnparsed"];
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "headers_too_large";
                    };
                };
            };
            /** @description Service Unavailable: `shutting_down` */
            503: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestId"];
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    "Retry-After": components["headers"]["RetryAfter"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "shutting_down";
                    };
                };
            };
        };
    };
    Runs_get: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            200: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestId"];
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["RunView"];
                };
            };
            /** @description Bad Request: `validation_failed` */
            400: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestIdUnlessUnparsed"];
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "validation_failed";
                    };
                };
            };
            /** @description Unauthorized: `unauthorized` */
            401: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestId"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "unauthorized";
                    };
                };
            };
            /** @description Not Found: `run_not_found` */
            404: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestId"];
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "run_not_found";
                    };
                };
            };
            /** @description URI Too Long: `uri_too_long` */
            414: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestId"];
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "uri_too_long";
                    };
                };
            };
            /** @description Too Many Requests: `rate_limited` */
            429: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestId"];
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    "Retry-After": components["headers"]["RetryAfter"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "rate_limited";
                    };
                };
            };
            /** @description Request Header Fields Too Large: `headers_too_large` */
            431: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestIdUnlessUnparsed"];
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "headers_too_large";
                    };
                };
            };
        };
    };
    Runs_cancel: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            202: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestId"];
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["RunView"];
                };
            };
            /** @description Bad Request: `validation_failed` */
            400: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestIdUnlessUnparsed"];
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "validation_failed";
                    };
                };
            };
            /** @description Unauthorized: `unauthorized` */
            401: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestId"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "unauthorized";
                    };
                };
            };
            /** @description Forbidden: `csrf_failed` */
            403: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestId"];
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "csrf_failed";
                    };
                };
            };
            /** @description Not Found: `run_not_found` */
            404: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestId"];
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "run_not_found";
                    };
                };
            };
            /** @description Conflict: `run_finished` */
            409: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestId"];
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "run_finished";
                    };
                };
            };
            /** @description URI Too Long: `uri_too_long` */
            414: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestId"];
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "uri_too_long";
                    };
                };
            };
            /** @description Too Many Requests: `rate_limited` */
            429: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestId"];
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    "Retry-After": components["headers"]["RetryAfter"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "rate_limited";
                    };
                };
            };
            /** @description Request Header Fields Too Large: `headers_too_large` */
            431: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestIdUnlessUnparsed"];
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "headers_too_large";
                    };
                };
            };
        };
    };
    Runs_sendMessage: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                id: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["SendMessageDto"];
            };
        };
        responses: {
            202: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestId"];
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["RunView"];
                };
            };
            /** @description Bad Request: `validation_failed` */
            400: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestIdUnlessUnparsed"];
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "validation_failed";
                    };
                };
            };
            /** @description Unauthorized: `unauthorized` */
            401: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestId"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "unauthorized";
                    };
                };
            };
            /** @description Forbidden: `csrf_failed` */
            403: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestId"];
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "csrf_failed";
                    };
                };
            };
            /** @description Not Found: `run_not_found`, `workspace_not_found` */
            404: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestId"];
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "run_not_found" | "workspace_not_found";
                    };
                };
            };
            /** @description Conflict: `follow_up_unsupported` */
            409: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestId"];
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "follow_up_unsupported";
                    };
                };
            };
            /** @description Payload Too Large: `payload_too_large` */
            413: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestId"];
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "payload_too_large";
                    };
                };
            };
            /** @description URI Too Long: `uri_too_long` */
            414: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestId"];
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "uri_too_long";
                    };
                };
            };
            /** @description Unsupported Media Type: `unsupported_media_type` */
            415: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestId"];
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "unsupported_media_type";
                    };
                };
            };
            /** @description Too Many Requests: `daily_limit`, `queue_full`, `concurrency_limit`, `rate_limited` */
            429: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestId"];
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    "Retry-After": components["headers"]["RetryAfter"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "daily_limit" | "queue_full" | "concurrency_limit" | "rate_limited";
                    };
                };
            };
            /** @description Request Header Fields Too Large: `headers_too_large` */
            431: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestIdUnlessUnparsed"];
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "headers_too_large";
                    };
                };
            };
            /** @description Service Unavailable: `shutting_down` */
            503: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestId"];
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    "Retry-After": components["headers"]["RetryAfter"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "shutting_down";
                    };
                };
            };
        };
    };
    Runs_events: {
        parameters: {
            query?: {
                after?: number;
                limit?: number;
            };
            header?: {
                /** @description SSE: resume after this event `seq` (instead of `after`) */
                "Last-Event-ID"?: string;
            };
            path: {
                id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description A page of events; with `Accept: text/event-stream`, the stored events then live ones, closing after the final status event */
            200: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestId"];
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["RunEventPage"];
                    "text/event-stream": string;
                };
            };
            /** @description Bad Request: `validation_failed` */
            400: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestIdUnlessUnparsed"];
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "validation_failed";
                    };
                };
            };
            /** @description Unauthorized: `unauthorized` */
            401: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestId"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "unauthorized";
                    };
                };
            };
            /** @description Not Found: `run_not_found` */
            404: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestId"];
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "run_not_found";
                    };
                };
            };
            /** @description URI Too Long: `uri_too_long` */
            414: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestId"];
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "uri_too_long";
                    };
                };
            };
            /** @description Too Many Requests: `rate_limited` */
            429: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestId"];
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    "Retry-After": components["headers"]["RetryAfter"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "rate_limited";
                    };
                };
            };
            /** @description Request Header Fields Too Large: `headers_too_large` */
            431: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestIdUnlessUnparsed"];
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "headers_too_large";
                    };
                };
            };
        };
    };
    Runs_logs: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The run's stdout, stderr and agent messages, in order */
            200: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestId"];
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "text/plain": string;
                };
            };
            /** @description Bad Request: `validation_failed` */
            400: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestIdUnlessUnparsed"];
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "validation_failed";
                    };
                };
            };
            /** @description Unauthorized: `unauthorized` */
            401: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestId"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "unauthorized";
                    };
                };
            };
            /** @description Not Found: `run_not_found` */
            404: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestId"];
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "run_not_found";
                    };
                };
            };
            /** @description URI Too Long: `uri_too_long` */
            414: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestId"];
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "uri_too_long";
                    };
                };
            };
            /** @description Too Many Requests: `rate_limited` */
            429: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestId"];
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    "Retry-After": components["headers"]["RetryAfter"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "rate_limited";
                    };
                };
            };
            /** @description Request Header Fields Too Large: `headers_too_large` */
            431: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestIdUnlessUnparsed"];
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "headers_too_large";
                    };
                };
            };
        };
    };
    Runs_diff: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The unified diff of what the run changed in its workspace */
            200: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestId"];
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "text/x-diff": string;
                };
            };
            /** @description Bad Request: `validation_failed` */
            400: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestIdUnlessUnparsed"];
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "validation_failed";
                    };
                };
            };
            /** @description Unauthorized: `unauthorized` */
            401: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestId"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "unauthorized";
                    };
                };
            };
            /** @description Not Found: `run_not_found`, `diff_not_found` */
            404: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestId"];
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "run_not_found" | "diff_not_found";
                    };
                };
            };
            /** @description URI Too Long: `uri_too_long` */
            414: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestId"];
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "uri_too_long";
                    };
                };
            };
            /** @description Too Many Requests: `rate_limited` */
            429: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestId"];
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    "Retry-After": components["headers"]["RetryAfter"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "rate_limited";
                    };
                };
            };
            /** @description Request Header Fields Too Large: `headers_too_large` */
            431: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestIdUnlessUnparsed"];
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "headers_too_large";
                    };
                };
            };
        };
    };
    AdminRuns_list: {
        parameters: {
            query?: {
                status?: "queued" | "running" | "succeeded" | "failed" | "cancelled" | "timed_out" | "interrupted";
                agent?: string;
                /** @description Only runs whose prompt contains this text (case-insensitive) */
                q?: string;
                limit?: number;
                cursor?: string;
                /** @description Only the thread of this root run: the root and its follow-ups, at any depth */
                thread?: string;
                userId?: string;
            };
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            200: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestId"];
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["RunPage"];
                };
            };
            /** @description Bad Request: `validation_failed` */
            400: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestIdUnlessUnparsed"];
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "validation_failed";
                    };
                };
            };
            /** @description Unauthorized: `unauthorized` */
            401: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestId"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "unauthorized";
                    };
                };
            };
            /** @description Forbidden: `forbidden` */
            403: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestId"];
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "forbidden";
                    };
                };
            };
            /** @description URI Too Long: `uri_too_long` */
            414: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestId"];
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "uri_too_long";
                    };
                };
            };
            /** @description Too Many Requests: `rate_limited` */
            429: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestId"];
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    "Retry-After": components["headers"]["RetryAfter"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "rate_limited";
                    };
                };
            };
            /** @description Request Header Fields Too Large: `headers_too_large` */
            431: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestIdUnlessUnparsed"];
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "headers_too_large";
                    };
                };
            };
        };
    };
    SeedCompat_run: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["SeedRunDto"];
            };
        };
        responses: {
            202: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestId"];
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["SeedTaskStarted"];
                };
            };
            /** @description Bad Request: `validation_failed`, `unknown_agent` */
            400: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestIdUnlessUnparsed"];
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "validation_failed" | "unknown_agent";
                    };
                };
            };
            /** @description Unauthorized: `unauthorized` */
            401: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestId"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "unauthorized";
                    };
                };
            };
            /** @description Forbidden: `csrf_failed` */
            403: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestId"];
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "csrf_failed";
                    };
                };
            };
            /** @description Not Found: `workspace_not_found`, `spec_not_found` */
            404: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestId"];
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "workspace_not_found" | "spec_not_found";
                    };
                };
            };
            /** @description Conflict: `run_conflict` */
            409: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestId"];
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "run_conflict";
                    };
                };
            };
            /** @description Payload Too Large: `payload_too_large` */
            413: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestId"];
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "payload_too_large";
                    };
                };
            };
            /** @description URI Too Long: `uri_too_long` */
            414: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestId"];
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "uri_too_long";
                    };
                };
            };
            /** @description Unsupported Media Type: `unsupported_media_type` */
            415: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestId"];
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "unsupported_media_type";
                    };
                };
            };
            /** @description Too Many Requests: `daily_limit`, `budget_exhausted`, `queue_full`, `concurrency_limit`, `rate_limited` */
            429: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestId"];
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    "Retry-After": components["headers"]["RetryAfter"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "daily_limit" | "budget_exhausted" | "queue_full" | "concurrency_limit" | "rate_limited";
                    };
                };
            };
            /** @description Request Header Fields Too Large: `headers_too_large` */
            431: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestIdUnlessUnparsed"];
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "headers_too_large";
                    };
                };
            };
            /** @description Service Unavailable: `shutting_down` */
            503: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestId"];
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    "Retry-After": components["headers"]["RetryAfter"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "shutting_down";
                    };
                };
            };
        };
    };
    SeedCompat_status: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                taskId: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            200: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestId"];
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["SeedTask"];
                };
            };
            /** @description Unauthorized: `unauthorized` */
            401: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestId"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "unauthorized";
                    };
                };
            };
            /** @description No such task of this user: `status` is `not_found` */
            404: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestId"];
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["SeedTask"];
                };
            };
            /** @description URI Too Long: `uri_too_long` */
            414: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestId"];
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "uri_too_long";
                    };
                };
            };
            /** @description Too Many Requests: `rate_limited` */
            429: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestId"];
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    "Retry-After": components["headers"]["RetryAfter"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "rate_limited";
                    };
                };
            };
            /** @description Request Header Fields Too Large: `headers_too_large` */
            431: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestIdUnlessUnparsed"];
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "headers_too_large";
                    };
                };
            };
        };
    };
    SeedCompat_cancel: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                taskId: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            200: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestId"];
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["SeedTaskCancelled"];
                };
            };
            /** @description Unauthorized: `unauthorized` */
            401: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestId"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "unauthorized";
                    };
                };
            };
            /** @description Forbidden: `csrf_failed` */
            403: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestId"];
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "csrf_failed";
                    };
                };
            };
            /** @description Not Found: `run_not_found` */
            404: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestId"];
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "run_not_found";
                    };
                };
            };
            /** @description Conflict: `run_finished` */
            409: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestId"];
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "run_finished";
                    };
                };
            };
            /** @description URI Too Long: `uri_too_long` */
            414: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestId"];
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "uri_too_long";
                    };
                };
            };
            /** @description Too Many Requests: `rate_limited` */
            429: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestId"];
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    "Retry-After": components["headers"]["RetryAfter"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "rate_limited";
                    };
                };
            };
            /** @description Request Header Fields Too Large: `headers_too_large` */
            431: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestIdUnlessUnparsed"];
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "headers_too_large";
                    };
                };
            };
        };
    };
    SeedCompat_health: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            200: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestId"];
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["SeedHealth"];
                };
            };
            /** @description URI Too Long: `uri_too_long` */
            414: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestId"];
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "uri_too_long";
                    };
                };
            };
            /** @description Too Many Requests: `rate_limited` */
            429: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestId"];
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    "Retry-After": components["headers"]["RetryAfter"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "rate_limited";
                    };
                };
            };
            /** @description Request Header Fields Too Large: `headers_too_large` */
            431: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestIdUnlessUnparsed"];
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "headers_too_large";
                    };
                };
            };
        };
    };
    RunApprovals_decide: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                id: string;
                approvalId: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["DecideApprovalDto"];
            };
        };
        responses: {
            200: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestId"];
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["RunView"];
                };
            };
            /** @description Bad Request: `validation_failed` */
            400: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestIdUnlessUnparsed"];
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "validation_failed";
                    };
                };
            };
            /** @description Unauthorized: `unauthorized` */
            401: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestId"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "unauthorized";
                    };
                };
            };
            /** @description Forbidden: `csrf_failed` */
            403: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestId"];
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "csrf_failed";
                    };
                };
            };
            /** @description Not Found: `run_not_found`, `approval_not_found` */
            404: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestId"];
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "run_not_found" | "approval_not_found";
                    };
                };
            };
            /** @description Conflict: `approval_closed` */
            409: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestId"];
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "approval_closed";
                    };
                };
            };
            /** @description Payload Too Large: `payload_too_large` */
            413: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestId"];
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "payload_too_large";
                    };
                };
            };
            /** @description URI Too Long: `uri_too_long` */
            414: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestId"];
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "uri_too_long";
                    };
                };
            };
            /** @description Unsupported Media Type: `unsupported_media_type` */
            415: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestId"];
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "unsupported_media_type";
                    };
                };
            };
            /** @description Too Many Requests: `rate_limited` */
            429: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestId"];
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    "Retry-After": components["headers"]["RetryAfter"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "rate_limited";
                    };
                };
            };
            /** @description Request Header Fields Too Large: `headers_too_large` */
            431: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestIdUnlessUnparsed"];
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "headers_too_large";
                    };
                };
            };
        };
    };
    Agents_list: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            200: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestId"];
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["AgentList"];
                };
            };
            /** @description Unauthorized: `unauthorized` */
            401: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestId"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "unauthorized";
                    };
                };
            };
            /** @description URI Too Long: `uri_too_long` */
            414: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestId"];
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "uri_too_long";
                    };
                };
            };
            /** @description Too Many Requests: `rate_limited` */
            429: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestId"];
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    "Retry-After": components["headers"]["RetryAfter"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "rate_limited";
                    };
                };
            };
            /** @description Request Header Fields Too Large: `headers_too_large` */
            431: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestIdUnlessUnparsed"];
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "headers_too_large";
                    };
                };
            };
        };
    };
    Webhooks_list: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            200: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestId"];
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WebhookEndpointList"];
                };
            };
            /** @description Unauthorized: `unauthorized` */
            401: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestId"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "unauthorized";
                    };
                };
            };
            /** @description URI Too Long: `uri_too_long` */
            414: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestId"];
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "uri_too_long";
                    };
                };
            };
            /** @description Too Many Requests: `rate_limited` */
            429: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestId"];
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    "Retry-After": components["headers"]["RetryAfter"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "rate_limited";
                    };
                };
            };
            /** @description Request Header Fields Too Large: `headers_too_large` */
            431: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestIdUnlessUnparsed"];
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "headers_too_large";
                    };
                };
            };
        };
    };
    Webhooks_create: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["CreateWebhookDto"];
            };
        };
        responses: {
            201: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestId"];
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["CreatedWebhookEndpoint"];
                };
            };
            /** @description Bad Request: `validation_failed`, `webhook_url_not_allowed` */
            400: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestIdUnlessUnparsed"];
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "validation_failed" | "webhook_url_not_allowed";
                    };
                };
            };
            /** @description Unauthorized: `unauthorized` */
            401: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestId"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "unauthorized";
                    };
                };
            };
            /** @description Forbidden: `csrf_failed` */
            403: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestId"];
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "csrf_failed";
                    };
                };
            };
            /** @description Payload Too Large: `payload_too_large` */
            413: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestId"];
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "payload_too_large";
                    };
                };
            };
            /** @description URI Too Long: `uri_too_long` */
            414: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestId"];
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "uri_too_long";
                    };
                };
            };
            /** @description Unsupported Media Type: `unsupported_media_type` */
            415: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestId"];
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "unsupported_media_type";
                    };
                };
            };
            /** @description Too Many Requests: `rate_limited` */
            429: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestId"];
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    "Retry-After": components["headers"]["RetryAfter"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "rate_limited";
                    };
                };
            };
            /** @description Request Header Fields Too Large: `headers_too_large` */
            431: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestIdUnlessUnparsed"];
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "headers_too_large";
                    };
                };
            };
        };
    };
    Webhooks_remove: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            204: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestId"];
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description Bad Request: `validation_failed` */
            400: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestIdUnlessUnparsed"];
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "validation_failed";
                    };
                };
            };
            /** @description Unauthorized: `unauthorized` */
            401: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestId"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "unauthorized";
                    };
                };
            };
            /** @description Forbidden: `csrf_failed` */
            403: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestId"];
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "csrf_failed";
                    };
                };
            };
            /** @description Not Found: `webhook_not_found` */
            404: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestId"];
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "webhook_not_found";
                    };
                };
            };
            /** @description URI Too Long: `uri_too_long` */
            414: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestId"];
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "uri_too_long";
                    };
                };
            };
            /** @description Too Many Requests: `rate_limited` */
            429: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestId"];
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    "Retry-After": components["headers"]["RetryAfter"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "rate_limited";
                    };
                };
            };
            /** @description Request Header Fields Too Large: `headers_too_large` */
            431: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestIdUnlessUnparsed"];
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "headers_too_large";
                    };
                };
            };
        };
    };
    Webhooks_deliveries: {
        parameters: {
            query?: {
                limit?: number;
                cursor?: string;
            };
            header?: never;
            path: {
                id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            200: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestId"];
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WebhookDeliveryPage"];
                };
            };
            /** @description Bad Request: `validation_failed` */
            400: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestIdUnlessUnparsed"];
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "validation_failed";
                    };
                };
            };
            /** @description Unauthorized: `unauthorized` */
            401: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestId"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "unauthorized";
                    };
                };
            };
            /** @description Not Found: `webhook_not_found` */
            404: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestId"];
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "webhook_not_found";
                    };
                };
            };
            /** @description URI Too Long: `uri_too_long` */
            414: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestId"];
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "uri_too_long";
                    };
                };
            };
            /** @description Too Many Requests: `rate_limited` */
            429: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestId"];
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    "Retry-After": components["headers"]["RetryAfter"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "rate_limited";
                    };
                };
            };
            /** @description Request Header Fields Too Large: `headers_too_large` */
            431: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestIdUnlessUnparsed"];
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "headers_too_large";
                    };
                };
            };
        };
    };
    Webhooks_redeliver: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                id: string;
                deliveryId: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            202: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestId"];
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WebhookDeliveryView"];
                };
            };
            /** @description Bad Request: `validation_failed` */
            400: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestIdUnlessUnparsed"];
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "validation_failed";
                    };
                };
            };
            /** @description Unauthorized: `unauthorized` */
            401: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestId"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "unauthorized";
                    };
                };
            };
            /** @description Forbidden: `csrf_failed` */
            403: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestId"];
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "csrf_failed";
                    };
                };
            };
            /** @description Not Found: `webhook_not_found`, `webhook_delivery_not_found` */
            404: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestId"];
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "webhook_not_found" | "webhook_delivery_not_found";
                    };
                };
            };
            /** @description URI Too Long: `uri_too_long` */
            414: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestId"];
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "uri_too_long";
                    };
                };
            };
            /** @description Too Many Requests: `rate_limited` */
            429: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestId"];
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    "Retry-After": components["headers"]["RetryAfter"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "rate_limited";
                    };
                };
            };
            /** @description Request Header Fields Too Large: `headers_too_large` */
            431: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestIdUnlessUnparsed"];
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "headers_too_large";
                    };
                };
            };
        };
    };
    WorkspaceCredentials_put: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                name: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["PutCredentialDto"];
            };
        };
        responses: {
            200: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestId"];
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WorkspaceCredentialView"];
                };
            };
            /** @description Bad Request: `validation_failed` */
            400: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestIdUnlessUnparsed"];
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "validation_failed";
                    };
                };
            };
            /** @description Unauthorized: `unauthorized` */
            401: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestId"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "unauthorized";
                    };
                };
            };
            /** @description Forbidden: `csrf_failed` */
            403: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestId"];
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "csrf_failed";
                    };
                };
            };
            /** @description Not Found: `workspace_not_found` */
            404: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestId"];
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "workspace_not_found";
                    };
                };
            };
            /** @description Payload Too Large: `payload_too_large` */
            413: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestId"];
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "payload_too_large";
                    };
                };
            };
            /** @description URI Too Long: `uri_too_long` */
            414: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestId"];
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "uri_too_long";
                    };
                };
            };
            /** @description Unsupported Media Type: `unsupported_media_type` */
            415: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestId"];
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "unsupported_media_type";
                    };
                };
            };
            /** @description Too Many Requests: `rate_limited` */
            429: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestId"];
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    "Retry-After": components["headers"]["RetryAfter"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "rate_limited";
                    };
                };
            };
            /** @description Request Header Fields Too Large: `headers_too_large` */
            431: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestIdUnlessUnparsed"];
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "headers_too_large";
                    };
                };
            };
        };
    };
    WorkspaceCredentials_remove: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                name: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            204: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestId"];
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description Bad Request: `validation_failed` */
            400: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestIdUnlessUnparsed"];
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "validation_failed";
                    };
                };
            };
            /** @description Unauthorized: `unauthorized` */
            401: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestId"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "unauthorized";
                    };
                };
            };
            /** @description Forbidden: `csrf_failed` */
            403: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestId"];
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "csrf_failed";
                    };
                };
            };
            /** @description Not Found: `workspace_not_found` */
            404: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestId"];
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "workspace_not_found";
                    };
                };
            };
            /** @description URI Too Long: `uri_too_long` */
            414: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestId"];
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "uri_too_long";
                    };
                };
            };
            /** @description Too Many Requests: `rate_limited` */
            429: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestId"];
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    "Retry-After": components["headers"]["RetryAfter"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "rate_limited";
                    };
                };
            };
            /** @description Request Header Fields Too Large: `headers_too_large` */
            431: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestIdUnlessUnparsed"];
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "headers_too_large";
                    };
                };
            };
        };
    };
    RunPullRequests_push: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            200: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestId"];
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["PushResultView"];
                };
            };
            /** @description Bad Request: `validation_failed`, `repo_url_not_allowed` */
            400: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestIdUnlessUnparsed"];
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "validation_failed" | "repo_url_not_allowed";
                    };
                };
            };
            /** @description Unauthorized: `unauthorized` */
            401: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestId"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "unauthorized";
                    };
                };
            };
            /** @description Forbidden: `csrf_failed` */
            403: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestId"];
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "csrf_failed";
                    };
                };
            };
            /** @description Not Found: `run_not_found`, `workspace_not_found` */
            404: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestId"];
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "run_not_found" | "workspace_not_found";
                    };
                };
            };
            /** @description Conflict: `run_active`, `nothing_to_push`, `no_remote`, `credential_unreadable` */
            409: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestId"];
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "run_active" | "nothing_to_push" | "no_remote" | "credential_unreadable";
                    };
                };
            };
            /** @description URI Too Long: `uri_too_long` */
            414: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestId"];
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "uri_too_long";
                    };
                };
            };
            /** @description Too Many Requests: `rate_limited` */
            429: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestId"];
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    "Retry-After": components["headers"]["RetryAfter"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "rate_limited";
                    };
                };
            };
            /** @description Request Header Fields Too Large: `headers_too_large` */
            431: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestIdUnlessUnparsed"];
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "headers_too_large";
                    };
                };
            };
            /** @description Bad Gateway: `push_failed` */
            502: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestId"];
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "push_failed";
                    };
                };
            };
        };
    };
    RunPullRequests_open: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                id: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["OpenPullRequestDto"];
            };
        };
        responses: {
            201: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestId"];
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["RunPullRequest"];
                };
            };
            /** @description Bad Request: `validation_failed`, `repo_url_not_allowed` */
            400: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestIdUnlessUnparsed"];
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "validation_failed" | "repo_url_not_allowed";
                    };
                };
            };
            /** @description Unauthorized: `unauthorized` */
            401: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestId"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "unauthorized";
                    };
                };
            };
            /** @description Forbidden: `csrf_failed` */
            403: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestId"];
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "csrf_failed";
                    };
                };
            };
            /** @description Not Found: `run_not_found`, `workspace_not_found` */
            404: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestId"];
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "run_not_found" | "workspace_not_found";
                    };
                };
            };
            /** @description Conflict: `run_active`, `nothing_to_push`, `no_remote`, `forge_not_configured`, `credential_unreadable`, `pull_request_exists` */
            409: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestId"];
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "run_active" | "nothing_to_push" | "no_remote" | "forge_not_configured" | "credential_unreadable" | "pull_request_exists";
                    };
                };
            };
            /** @description Payload Too Large: `payload_too_large` */
            413: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestId"];
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "payload_too_large";
                    };
                };
            };
            /** @description URI Too Long: `uri_too_long` */
            414: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestId"];
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "uri_too_long";
                    };
                };
            };
            /** @description Unsupported Media Type: `unsupported_media_type` */
            415: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestId"];
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "unsupported_media_type";
                    };
                };
            };
            /** @description Too Many Requests: `rate_limited` */
            429: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestId"];
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    "Retry-After": components["headers"]["RetryAfter"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "rate_limited";
                    };
                };
            };
            /** @description Request Header Fields Too Large: `headers_too_large` */
            431: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestIdUnlessUnparsed"];
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "headers_too_large";
                    };
                };
            };
            /** @description Bad Gateway: `push_failed`, `forge_request_failed` */
            502: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestId"];
                    "X-RateLimit-Limit": components["headers"]["RateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["RateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["RateLimitReset"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "push_failed" | "forge_request_failed";
                    };
                };
            };
        };
    };
    Health_live: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            200: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestId"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["LiveStatus"];
                };
            };
            /** @description URI Too Long: `uri_too_long` */
            414: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestId"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "uri_too_long";
                    };
                };
            };
            /** @description Request Header Fields Too Large: `headers_too_large` */
            431: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestIdUnlessUnparsed"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "headers_too_large";
                    };
                };
            };
        };
    };
    Health_ready: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Every probe is up */
            200: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestId"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ReadinessReport"];
                };
            };
            /** @description URI Too Long: `uri_too_long` */
            414: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestId"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "uri_too_long";
                    };
                };
            };
            /** @description Request Header Fields Too Large: `headers_too_large` */
            431: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestIdUnlessUnparsed"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "headers_too_large";
                    };
                };
            };
            /** @description A probe is down, the server is still ending what an unclean stop left running, or it is shutting down */
            503: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestId"];
                    "Retry-After": components["headers"]["RetryAfter"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ReadinessReport"];
                };
            };
        };
    };
    Health_detailed: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description `healthy` or `degraded` */
            200: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestId"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["HealthReport"];
                };
            };
            /** @description Unauthorized: `unauthorized` */
            401: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestId"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "unauthorized";
                    };
                };
            };
            /** @description Forbidden: `forbidden` */
            403: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestId"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "forbidden";
                    };
                };
            };
            /** @description URI Too Long: `uri_too_long` */
            414: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestId"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "uri_too_long";
                    };
                };
            };
            /** @description Request Header Fields Too Large: `headers_too_large` */
            431: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestIdUnlessUnparsed"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "headers_too_large";
                    };
                };
            };
            /** @description `unhealthy` */
            503: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestId"];
                    "Retry-After": components["headers"]["RetryAfter"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["HealthReport"];
                };
            };
        };
    };
    Metrics_index: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The Prometheus text exposition format */
            200: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestId"];
                    [name: string]: unknown;
                };
                content: {
                    "text/plain": string;
                };
            };
            /** @description URI Too Long: `uri_too_long` */
            414: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestId"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "uri_too_long";
                    };
                };
            };
            /** @description Request Header Fields Too Large: `headers_too_large` */
            431: {
                headers: {
                    "X-Request-Id": components["headers"]["RequestIdUnlessUnparsed"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "headers_too_large";
                    };
                };
            };
        };
    };
}
