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
        get: operations["Workspaces_list"];
        put?: never;
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
        get: operations["Workspaces_get"];
        put?: never;
        post?: never;
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
        /** In the order of their numbers, all at once: a workspace holds a handful of specs. */
        get: operations["Workspaces_listSpecs"];
        put?: never;
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
        get: operations["Workspaces_getSpec"];
        put?: never;
        post?: never;
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
        get: operations["Runs_list"];
        put?: never;
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
        post: operations["Runs_cancel"];
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
        /** SSE when the client accepts `text/event-stream`, JSON pages otherwise. */
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
        get: operations["AdminRuns_list"];
        put?: never;
        post?: never;
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
        get: operations["Agents_list"];
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
        get: operations["SeedCompat_health"];
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
        get: operations["Webhooks_list"];
        put?: never;
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
        post: operations["Webhooks_redeliver"];
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
        /** The process can serve: no dependency is checked. */
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
        /** Version, uptime, role, node, each component's state and the run counts; admin token unless HEALTH_DETAILED_PUBLIC. */
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
        ProblemDocument: {
            /** @description A URI naming the kind of problem, derived from `code`. */
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
            /** @description `daily_limit`: when the daily count starts again (00:00 UTC). */
            resetsAt?: string;
            /** @description `unknown_agent`: the agent profiles this server offers. */
            agents?: string[];
            /** @description `run_finished`: the run's final status. */
            runStatus?: string;
            /** @description `workspace_busy`: the workspace's queued and running runs. */
            activeRuns?: number;
            /** @description `clone_failed`: the repository URL, without credentials. */
            repoUrl?: string;
        };
        CreateWorkspaceDto: {
            name: string;
            repoUrl?: string;
            ref?: string;
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
            createdAt: string;
        };
        WorkspaceView: {
            name: string;
            /** @description The repository it was cloned from, without credentials; null for an empty workspace. */
            repoUrl: string | null;
            /** @description The branch, tag or commit checked out after the clone. */
            ref: string | null;
            createdAt: string;
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
        QuotaUsage: {
            used: number;
            limit: number;
        };
        DailyQuotaUsage: {
            used: number;
            limit: number;
            /** @description The next 00:00 UTC, when the count starts again. */
            resetsAt: string;
        };
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
        };
        QuotaOverrides: {
            /** @enum {string|null} */
            tier: "free" | "standard" | "premium" | null;
            concurrent: number | null;
            daily: number | null;
            queued: number | null;
            maxRunSeconds: number | null;
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
            userId: string;
            /** @enum {string} */
            role: "user" | "admin";
            overrides: components["schemas"]["QuotaOverrides"];
            createdAt: string;
            lastSeenAt: string;
        };
        UserQuotaList: {
            items: components["schemas"]["UserQuotaView"][];
        };
        UpdateQuotaDto: {
            /** @enum {string|null} */
            tier?: "free" | "standard" | "premium" | null;
            concurrent?: number | null;
            daily?: number | null;
            queued?: number | null;
            maxRunSeconds?: number | null;
        };
        SubmitRunDto: {
            agent?: string;
            /** @description What the agent is to do: at most 100,000 bytes of UTF-8, not only whitespace; tab, LF and CR are its only control characters. */
            prompt?: string;
            specId?: string;
            workspace?: string;
            model?: string;
            timeoutSeconds?: number;
            metadata?: {
                [key: string]: unknown;
            };
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
        RunView: {
            status: components["schemas"]["RunStatus"];
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
            /** @description What the client sent at submit, returned as is. */
            metadata: {
                [key: string]: unknown;
            };
            createdAt: string;
            startedAt: string | null;
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
        };
        RunPage: {
            items: components["schemas"]["RunView"][];
            /** @description Pass as `cursor` for the next page; null on the last one. */
            nextCursor: string | null;
        };
        /** @enum {string} */
        RunEventType: "status" | "stdout" | "stderr" | "message" | "tool_use" | "tool_result" | "result";
        RunEventView: {
            type: components["schemas"]["RunEventType"];
            /** @description Starts at 1 for each run and has no gaps. */
            seq: number;
            ts: string;
            /** @description By type: `status` {status, reason?}, `stdout`/`stderr` {line}, `message` {text}, `tool_use` {name, input}, `tool_result` {name?, ok, output}, `result` {summary?, costUsd?, inputTokens?, outputTokens?, turns?}. */
            data: {
                [key: string]: unknown;
            };
        };
        RunEventPage: {
            items: components["schemas"]["RunEventView"][];
            /** @description Pass as `after` for the next page: the last `seq` of this one (or the `after` asked for, on an empty page). */
            nextAfter: number;
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
            requested: "none" | "auto" | "bwrap";
            /**
             * @description What agents run in here: `bwrap` (bubblewrap) or `none`.
             * @enum {string}
             */
            mode: "none" | "bwrap";
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
            /** @description The run id. */
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
            status: "not_found" | "running" | "failed" | "cancelled" | "completed";
            result: components["schemas"]["RunResult"] | null;
            /** @description The run's error message. */
            error: string | null;
        };
        SeedTaskCancelled: {
            task_id: string;
            /** @enum {string} */
            status: "not_found" | "running" | "failed" | "cancelled" | "completed";
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
        CreateWebhookDto: {
            /** @description Where events are POSTed: an http or https URL of a public address. */
            url: string;
            /** @description The event types to send; every type when left out. */
            events?: ("run.started" | "run.succeeded" | "run.failed" | "run.cancelled" | "run.timed_out" | "run.interrupted")[];
        };
        /**
         * @description The event types sent to it.
         * @enum {string}
         */
        WebhookEventType: "run.started" | "run.succeeded" | "run.failed" | "run.cancelled" | "run.timed_out" | "run.interrupted";
        CreatedWebhookEndpoint: {
            /** @description The event types sent to it. */
            events: components["schemas"]["WebhookEventType"][];
            /** @description `whsec_…`: verifies the `webhook-signature` header (Standard Webhooks). */
            secret: string;
            id: string;
            url: string;
            createdAt: string;
            /** @description Since when its deliveries fail (none has succeeded since); null while they succeed. */
            failingSince: string | null;
            /** @description Set when it failed for 24 hours: nothing more is sent until a delivery is redelivered. */
            disabledAt: string | null;
            disabledReason: string | null;
        };
        WebhookEndpointView: {
            /** @description The event types sent to it. */
            events: components["schemas"]["WebhookEventType"][];
            id: string;
            url: string;
            createdAt: string;
            /** @description Since when its deliveries fail (none has succeeded since); null while they succeed. */
            failingSince: string | null;
            /** @description Set when it failed for 24 hours: nothing more is sent until a delivery is redelivered. */
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
            id: string;
            endpointId: string;
            attempts: number;
            /** @description When it is tried next, while pending. */
            nextAttemptAt: string | null;
            lastAttemptAt: string | null;
            /** @description The HTTP status the endpoint answered last; null when it did not answer. */
            lastStatusCode: number | null;
            lastError: string | null;
            createdAt: string;
            deliveredAt: string | null;
        };
        WebhookDeliveryPage: {
            items: components["schemas"]["WebhookDeliveryView"][];
            nextCursor: string | null;
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
            status: "shutting_down" | "error" | "ok" | "degraded";
        };
        HealthReport: {
            /** @description Each component, by name */
            components: {
                [key: string]: components["schemas"]["HealthComponent"];
            };
            /**
             * @description `degraded` when only the queue, recovery or draining is down.
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
        };
    };
    responses: never;
    parameters: never;
    requestBodies: never;
    headers: never;
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
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WorkspacePage"];
                };
            };
            /** @description Bad Request: `validation_failed` */
            400: {
                headers: {
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
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "unauthorized";
                    };
                };
            };
            /** @description Too Many Requests: `rate_limited` */
            429: {
                headers: {
                    /** @description Seconds to wait before trying again */
                    "Retry-After"?: number;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "rate_limited";
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
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WorkspaceDetail"];
                };
            };
            /** @description Bad Request: `validation_failed`, `repo_url_not_allowed` */
            400: {
                headers: {
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
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "unauthorized";
                    };
                };
            };
            /** @description Conflict: `workspace_exists` */
            409: {
                headers: {
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
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "payload_too_large";
                    };
                };
            };
            /** @description Unsupported Media Type: `unsupported_media_type` */
            415: {
                headers: {
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
                    /** @description Seconds to wait before trying again */
                    "Retry-After"?: number;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "rate_limited";
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
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WorkspaceDetail"];
                };
            };
            /** @description Bad Request: `validation_failed` */
            400: {
                headers: {
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
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "workspace_not_found";
                    };
                };
            };
            /** @description Too Many Requests: `rate_limited` */
            429: {
                headers: {
                    /** @description Seconds to wait before trying again */
                    "Retry-After"?: number;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "rate_limited";
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
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description Bad Request: `validation_failed` */
            400: {
                headers: {
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
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "workspace_busy";
                    };
                };
            };
            /** @description Too Many Requests: `rate_limited` */
            429: {
                headers: {
                    /** @description Seconds to wait before trying again */
                    "Retry-After"?: number;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "rate_limited";
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
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["SpecPage"];
                };
            };
            /** @description Bad Request: `validation_failed` */
            400: {
                headers: {
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
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "workspace_not_found";
                    };
                };
            };
            /** @description Too Many Requests: `rate_limited` */
            429: {
                headers: {
                    /** @description Seconds to wait before trying again */
                    "Retry-After"?: number;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "rate_limited";
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
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["SpecDetail"];
                };
            };
            /** @description Bad Request: `validation_failed` */
            400: {
                headers: {
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
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "payload_too_large";
                    };
                };
            };
            /** @description Unsupported Media Type: `unsupported_media_type` */
            415: {
                headers: {
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
                    /** @description Seconds to wait before trying again */
                    "Retry-After"?: number;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "rate_limited";
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
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["SpecDetail"];
                };
            };
            /** @description Bad Request: `validation_failed` */
            400: {
                headers: {
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
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "workspace_not_found" | "spec_not_found";
                    };
                };
            };
            /** @description Too Many Requests: `rate_limited` */
            429: {
                headers: {
                    /** @description Seconds to wait before trying again */
                    "Retry-After"?: number;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "rate_limited";
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
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["QuotaSummary"];
                };
            };
            /** @description Unauthorized: `unauthorized` */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "unauthorized";
                    };
                };
            };
            /** @description Too Many Requests: `rate_limited` */
            429: {
                headers: {
                    /** @description Seconds to wait before trying again */
                    "Retry-After"?: number;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "rate_limited";
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
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["UserQuotaList"];
                };
            };
            /** @description Unauthorized: `unauthorized` */
            401: {
                headers: {
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
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "forbidden";
                    };
                };
            };
            /** @description Too Many Requests: `rate_limited` */
            429: {
                headers: {
                    /** @description Seconds to wait before trying again */
                    "Retry-After"?: number;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "rate_limited";
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
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["UserQuotaView"];
                };
            };
            /** @description Bad Request: `validation_failed` */
            400: {
                headers: {
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
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "forbidden";
                    };
                };
            };
            /** @description Payload Too Large: `payload_too_large` */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "payload_too_large";
                    };
                };
            };
            /** @description Unsupported Media Type: `unsupported_media_type` */
            415: {
                headers: {
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
                    /** @description Seconds to wait before trying again */
                    "Retry-After"?: number;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "rate_limited";
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
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["RunPage"];
                };
            };
            /** @description Bad Request: `validation_failed` */
            400: {
                headers: {
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
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "unauthorized";
                    };
                };
            };
            /** @description Too Many Requests: `rate_limited` */
            429: {
                headers: {
                    /** @description Seconds to wait before trying again */
                    "Retry-After"?: number;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "rate_limited";
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
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["RunView"];
                };
            };
            /** @description Bad Request: `validation_failed`, `unknown_agent`, `timeout_exceeds_quota` */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "validation_failed" | "unknown_agent" | "timeout_exceeds_quota";
                    };
                };
            };
            /** @description Unauthorized: `unauthorized` */
            401: {
                headers: {
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
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "payload_too_large";
                    };
                };
            };
            /** @description Unsupported Media Type: `unsupported_media_type` */
            415: {
                headers: {
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
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "idempotency_key_reused";
                    };
                };
            };
            /** @description Too Many Requests: `daily_limit`, `queue_full`, `concurrency_limit`, `rate_limited` */
            429: {
                headers: {
                    /** @description Seconds to wait before trying again */
                    "Retry-After"?: number;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "daily_limit" | "queue_full" | "concurrency_limit" | "rate_limited";
                    };
                };
            };
            /** @description Service Unavailable: `shutting_down` */
            503: {
                headers: {
                    /** @description Seconds to wait before trying again */
                    "Retry-After"?: number;
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
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["RunView"];
                };
            };
            /** @description Bad Request: `validation_failed` */
            400: {
                headers: {
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
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "run_not_found";
                    };
                };
            };
            /** @description Too Many Requests: `rate_limited` */
            429: {
                headers: {
                    /** @description Seconds to wait before trying again */
                    "Retry-After"?: number;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "rate_limited";
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
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["RunView"];
                };
            };
            /** @description Bad Request: `validation_failed` */
            400: {
                headers: {
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
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "run_finished";
                    };
                };
            };
            /** @description Too Many Requests: `rate_limited` */
            429: {
                headers: {
                    /** @description Seconds to wait before trying again */
                    "Retry-After"?: number;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "rate_limited";
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
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "run_not_found";
                    };
                };
            };
            /** @description Too Many Requests: `rate_limited` */
            429: {
                headers: {
                    /** @description Seconds to wait before trying again */
                    "Retry-After"?: number;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "rate_limited";
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
                    [name: string]: unknown;
                };
                content: {
                    "text/plain": string;
                };
            };
            /** @description Bad Request: `validation_failed` */
            400: {
                headers: {
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
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "run_not_found";
                    };
                };
            };
            /** @description Too Many Requests: `rate_limited` */
            429: {
                headers: {
                    /** @description Seconds to wait before trying again */
                    "Retry-After"?: number;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "rate_limited";
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
                    [name: string]: unknown;
                };
                content: {
                    "text/x-diff": string;
                };
            };
            /** @description Bad Request: `validation_failed` */
            400: {
                headers: {
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
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "run_not_found" | "diff_not_found";
                    };
                };
            };
            /** @description Too Many Requests: `rate_limited` */
            429: {
                headers: {
                    /** @description Seconds to wait before trying again */
                    "Retry-After"?: number;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "rate_limited";
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
                limit?: number;
                cursor?: string;
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
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["RunPage"];
                };
            };
            /** @description Bad Request: `validation_failed` */
            400: {
                headers: {
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
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "forbidden";
                    };
                };
            };
            /** @description Too Many Requests: `rate_limited` */
            429: {
                headers: {
                    /** @description Seconds to wait before trying again */
                    "Retry-After"?: number;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "rate_limited";
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
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["AgentList"];
                };
            };
            /** @description Unauthorized: `unauthorized` */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "unauthorized";
                    };
                };
            };
            /** @description Too Many Requests: `rate_limited` */
            429: {
                headers: {
                    /** @description Seconds to wait before trying again */
                    "Retry-After"?: number;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "rate_limited";
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
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["SeedTaskStarted"];
                };
            };
            /** @description Bad Request: `validation_failed`, `unknown_agent` */
            400: {
                headers: {
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
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "payload_too_large";
                    };
                };
            };
            /** @description Unsupported Media Type: `unsupported_media_type` */
            415: {
                headers: {
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
                    /** @description Seconds to wait before trying again */
                    "Retry-After"?: number;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "daily_limit" | "queue_full" | "concurrency_limit" | "rate_limited";
                    };
                };
            };
            /** @description Service Unavailable: `shutting_down` */
            503: {
                headers: {
                    /** @description Seconds to wait before trying again */
                    "Retry-After"?: number;
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
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["SeedTask"];
                };
            };
            /** @description Unauthorized: `unauthorized` */
            401: {
                headers: {
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
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["SeedTask"];
                };
            };
            /** @description Too Many Requests: `rate_limited` */
            429: {
                headers: {
                    /** @description Seconds to wait before trying again */
                    "Retry-After"?: number;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "rate_limited";
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
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["SeedTaskCancelled"];
                };
            };
            /** @description Unauthorized: `unauthorized` */
            401: {
                headers: {
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
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "run_finished";
                    };
                };
            };
            /** @description Too Many Requests: `rate_limited` */
            429: {
                headers: {
                    /** @description Seconds to wait before trying again */
                    "Retry-After"?: number;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "rate_limited";
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
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["SeedHealth"];
                };
            };
            /** @description Too Many Requests: `rate_limited` */
            429: {
                headers: {
                    /** @description Seconds to wait before trying again */
                    "Retry-After"?: number;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "rate_limited";
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
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WebhookEndpointList"];
                };
            };
            /** @description Unauthorized: `unauthorized` */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "unauthorized";
                    };
                };
            };
            /** @description Too Many Requests: `rate_limited` */
            429: {
                headers: {
                    /** @description Seconds to wait before trying again */
                    "Retry-After"?: number;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "rate_limited";
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
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["CreatedWebhookEndpoint"];
                };
            };
            /** @description Bad Request: `validation_failed`, `webhook_url_not_allowed` */
            400: {
                headers: {
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
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "payload_too_large";
                    };
                };
            };
            /** @description Unsupported Media Type: `unsupported_media_type` */
            415: {
                headers: {
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
                    /** @description Seconds to wait before trying again */
                    "Retry-After"?: number;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "rate_limited";
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
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description Bad Request: `validation_failed` */
            400: {
                headers: {
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
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "webhook_not_found";
                    };
                };
            };
            /** @description Too Many Requests: `rate_limited` */
            429: {
                headers: {
                    /** @description Seconds to wait before trying again */
                    "Retry-After"?: number;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "rate_limited";
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
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WebhookDeliveryPage"];
                };
            };
            /** @description Bad Request: `validation_failed` */
            400: {
                headers: {
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
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "webhook_not_found";
                    };
                };
            };
            /** @description Too Many Requests: `rate_limited` */
            429: {
                headers: {
                    /** @description Seconds to wait before trying again */
                    "Retry-After"?: number;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "rate_limited";
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
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WebhookDeliveryView"];
                };
            };
            /** @description Bad Request: `validation_failed` */
            400: {
                headers: {
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
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "unauthorized";
                    };
                };
            };
            /** @description Not Found: `webhook_not_found`, `webhook_delivery_not_found` */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "webhook_not_found" | "webhook_delivery_not_found";
                    };
                };
            };
            /** @description Too Many Requests: `rate_limited` */
            429: {
                headers: {
                    /** @description Seconds to wait before trying again */
                    "Retry-After"?: number;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "rate_limited";
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
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["LiveStatus"];
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
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ReadinessReport"];
                };
            };
            /** @description A probe is down, the server is still ending what an unclean stop left running, or it is shutting down */
            503: {
                headers: {
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
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["HealthReport"];
                };
            };
            /** @description Unauthorized: `unauthorized` */
            401: {
                headers: {
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
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["ProblemDocument"] & {
                        /** @enum {string} */
                        code?: "forbidden";
                    };
                };
            };
            /** @description `unhealthy` */
            503: {
                headers: {
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
                    [name: string]: unknown;
                };
                content: {
                    "text/plain": string;
                };
            };
        };
    };
}
