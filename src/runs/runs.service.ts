import { Injectable, Logger } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { Brackets, type Repository } from 'typeorm';
import { InjectRepository } from '@nestjs/typeorm';
import { Clock } from '../common/clock.js';
import { decodeCursor, encodeCursor, type Page } from '../common/pagination.js';
import { ProblemError } from '../common/problem.js';
import { hasForbiddenControl } from '../common/text-input.js';
import { uuidv7 } from '../common/uuid7.js';
import type { AppConfig } from '../config/configuration.js';
import { DatabaseService } from '../database/database.service.js';
import { IdempotencyService, type IdempotentRequest } from '../idempotency/idempotency.service.js';
import { RunMetrics } from '../metrics/metrics.service.js';
import { QuotaService } from '../quota/quota.service.js';
import { WebhooksService } from '../webhooks/webhooks.service.js';
import { SpecsService } from '../workspace/specs.service.js';
import { WorkspacesService } from '../workspace/workspaces.service.js';
import { AgentProfilesService } from '../agents/agent-profiles.service.js';
import { DispatcherService } from '../dispatch/dispatcher.service.js';
import { MAX_METADATA_BYTES, MAX_PROMPT_BYTES, SubmitRunDto } from './dto/submit-run.dto.js';
import { isFinal, Run, type RunStatus } from './entities/run.entity.js';
import { RunEventsService } from './run-events.service.js';
import { ApprovalsService } from './approvals.service.js';
import { RunQueue } from '../dispatch/run-queue.js';
import { RUN_COLUMNS, runFromRow, type RunRow } from './run-rows.js';
import { toRunView, type RunEventView, type RunView } from './run.view.js';

/** Whose runs a call may touch: one user's, or (admin CLI) everyone's. */
export type RunScope = { userId: string } | 'all';

export interface RunFilter {
  status?: RunStatus;
  agent?: string;
  userId?: string;
  /** Words the prompt contains, case-insensitively. */
  q?: string;
  limit?: number;
  cursor?: string;
  /** A thread: this root run and its follow-ups. */
  thread?: string;
}

const LOG_PAGE = 1000;

const FIND_RUN_SQL = `SELECT ${RUN_COLUMNS} FROM runs WHERE id = ?`;
const FIND_USER_RUN_SQL = `${FIND_RUN_SQL} AND user_id = ?`;

/** A new run: queued, its first event (seq 1) inserted with it; every other column starts at its default. */
const INSERT_RUN_SQL =
  'INSERT INTO runs (id, user_id, agent, status, prompt, spec_id, workspace, model, timeout_seconds, max_budget_usd, metadata, created_at, last_seq, pull_request) ' +
  "VALUES (?, ?, ?, 'queued', ?, ?, ?, ?, ?, ?, ?, ?, 1, ?)";

/** A follow-up's link to the run it continues, written with the run. */
const SET_PARENT_SQL = 'UPDATE runs SET parent_run_id = ?, thread_id = ? WHERE id = ?';

/** How much of a prompt a debug log shows. */
const LOGGED_PROMPT_CHARS = 500;

@Injectable()
export class RunsService {
  private readonly logger = new Logger(RunsService.name);
  private readonly defaultTimeout: number;

  constructor(
    config: ConfigService<AppConfig, true>,
    private readonly database: DatabaseService,
    @InjectRepository(Run) private readonly runs: Repository<Run>,
    private readonly events: RunEventsService,
    private readonly profiles: AgentProfilesService,
    private readonly quota: QuotaService,
    private readonly queue: RunQueue,
    private readonly dispatcher: DispatcherService,
    private readonly clock: Clock,
    private readonly metrics: RunMetrics,
    private readonly workspaces: WorkspacesService,
    private readonly specs: SpecsService,
    private readonly idempotency: IdempotencyService,
    private readonly webhooks: WebhooksService,
    private readonly approvals: ApprovalsService,
  ) {
    this.defaultTimeout = config.get('agents.timeoutSeconds', { infer: true });
  }

  /**
   * Queues a run. With an idempotency key, a retry of an accepted submit gets the
   * first answer again (`replayed`), creating nothing and counting against no quota.
   */
  async submit(
    userId: string,
    request: SubmitRunDto,
    idempotent: IdempotentRequest | null = null,
    parent: Pick<Run, 'id' | 'threadId'> | null = null,
  ): Promise<{ run: RunView; replayed: boolean }> {
    if (this.dispatcher.isDraining) {
      throw new ProblemError('shutting_down', 'the server is shutting down; submit again once it is back', { headers: { 'Retry-After': '5' } });
    }
    const agent = request.agent ?? this.profiles.defaultAgent;
    const profile = this.profiles.find(agent);
    if (!profile) {
      throw new ProblemError('unknown_agent', `there is no agent profile "${agent}"`, {
        extensions: { agents: this.profiles.list().map((p) => p.name) },
      });
    }
    const prompt = await this.promptOf(userId, request);
    const metadata = request.metadata ?? {};
    if (Buffer.byteLength(JSON.stringify(metadata)) > MAX_METADATA_BYTES) {
      throw new ProblemError('validation_failed', `metadata must be at most ${MAX_METADATA_BYTES} bytes of JSON`);
    }
    if (request.pullRequest && request.workspace === undefined) {
      throw new ProblemError('validation_failed', "pullRequest needs a workspace: a pull request proposes the run's branch of a named workspace");
    }
    const pullRequest = request.pullRequest ? { requested: { draft: request.pullRequest.draft, base: request.pullRequest.base } } : null;
    const now = this.clock.now();
    const created = await this.database.transaction(async (manager) => {
      // Claimed first: a duplicate waits here for this transaction, then replays its answer without touching the quota.
      const replay = idempotent && (await this.idempotency.claim(manager, idempotent));
      if (replay) return { replayed: replay.body as RunView };
      // Locked until the run is stored: a delete of the workspace either sees this run or happened before.
      if (request.workspace !== undefined) await this.workspaces.findForRun(manager, userId, request.workspace);
      const limits = await this.quota.admit(manager, userId, request.timeoutSeconds, now, request.maxBudgetUsd);
      const timeoutSeconds = request.timeoutSeconds ?? Math.min(profile.timeoutSeconds ?? this.defaultTimeout, limits.maxRunSeconds);
      const run = Object.assign(new Run(), {
        // Time-ordered (UUIDv7): a new run's rows land at the end of the id indexes, not on a random page of them.
        id: uuidv7(),
        userId,
        agent,
        status: 'queued' as const,
        prompt,
        specId: request.specId ?? null,
        workspace: request.workspace ?? null,
        model: request.model ?? null,
        timeoutSeconds,
        maxBudgetUsd: request.maxBudgetUsd ?? null,
        metadata,
        createdAt: now.toISOString(),
        startedAt: null,
        finishedAt: null,
        exitCode: null,
        error: null,
        result: null,
        cancelRequested: false,
        node: null,
        pgid: null,
        pgidStartedAt: null,
        lastSeq: 1,
        baseCommit: null,
        worktreeRemovedAt: null,
        pullRequest,
      });
      await this.database.query(manager, INSERT_RUN_SQL, [
        run.id,
        userId,
        agent,
        prompt,
        run.specId,
        run.workspace,
        run.model,
        timeoutSeconds,
        run.maxBudgetUsd,
        JSON.stringify(metadata),
        run.createdAt,
        pullRequest && JSON.stringify(pullRequest),
      ]);
      if (parent) {
        Object.assign(run, { parentRunId: parent.id, threadId: parent.threadId ?? parent.id });
        await this.database.query(manager, SET_PARENT_SQL, [run.parentRunId, run.threadId, run.id]);
      }
      const event = await this.events.appendFirst(manager, run.id, 'status', { status: 'queued' }, run.createdAt);
      const view = toRunView(run);
      if (idempotent) await this.idempotency.record(manager, idempotent, { status: 202, body: view });
      return { replayed: null, run, view, event, queuedAhead: limits.queuedAhead };
    });
    if (created.replayed) return { run: created.replayed, replayed: true };
    const { run, view, event, queuedAhead } = created;
    this.events.publish(run.id, [event]);
    this.metrics.runSubmitted(agent);
    this.logger.log({ runId: run.id, userId, agent }, 'run submitted');
    this.logger.debug({ runId: run.id, prompt: run.prompt.slice(0, LOGGED_PROMPT_CHARS) }, 'run prompt');
    void this.queue.enqueue({ id: run.id, userId, createdAt: run.createdAt, position: queuedAhead });
    return { run: view, replayed: false };
  }

  /** The run's prompt: the one sent, or the spec.md of `specId` in the run's workspace. */
  private async promptOf(userId: string, request: SubmitRunDto): Promise<string> {
    if (request.specId === undefined) {
      if (request.prompt === undefined) throw new ProblemError('validation_failed', 'prompt is required (or a specId with its workspace)');
      return request.prompt;
    }
    if (request.prompt !== undefined) throw new ProblemError('validation_failed', "send either a prompt or a specId: a spec's spec.md is the prompt");
    if (request.workspace === undefined) throw new ProblemError('validation_failed', 'specId needs the workspace that holds the spec');
    const spec = await this.specs.read(userId, request.workspace, request.specId);
    // spec.md may have been written by an agent since it was added, so it is checked as a sent prompt would be.
    if (Buffer.byteLength(spec.content, 'utf8') > MAX_PROMPT_BYTES) {
      throw new ProblemError('validation_failed', `spec "${request.specId}" is longer than a prompt may be (${MAX_PROMPT_BYTES} bytes of UTF-8)`);
    }
    if (hasForbiddenControl(spec.content, true)) {
      throw new ProblemError('validation_failed', `spec "${request.specId}" contains control characters other than tab, line feed and carriage return`);
    }
    return spec.content;
  }

  async list(scope: RunScope, filter: RunFilter): Promise<Page<RunView>> {
    const limit = filter.limit ?? 20;
    const query = this.runs.createQueryBuilder('run').orderBy('run.createdAt', 'DESC').addOrderBy('run.id', 'DESC').take(limit + 1);
    const userId = scope === 'all' ? filter.userId : scope.userId;
    if (userId !== undefined) query.andWhere('run.userId = :userId', { userId });
    if (filter.status) query.andWhere('run.status = :status', { status: filter.status });
    if (filter.agent) query.andWhere('run.agent = :agent', { agent: filter.agent });
    if (filter.thread) query.andWhere('(run.id = :thread OR run.threadId = :thread)', { thread: filter.thread });
    if (filter.q) {
      // LIKE's wildcards in the search are matched literally; LOWER on both sides, as SQLite and PostgreSQL fold case differently in LIKE.
      const pattern = '%' + filter.q.toLowerCase().replace(/[\\%_]/g, (char) => '\\' + char) + '%';
      query.andWhere("LOWER(run.prompt) LIKE :pattern ESCAPE '\\'", { pattern });
    }
    if (filter.cursor) {
      const cursor = decodeCursor(filter.cursor);
      query.andWhere(
        new Brackets((where) =>
          where
            .where('run.createdAt < :cursorCreatedAt', { cursorCreatedAt: cursor.createdAt })
            .orWhere('run.createdAt = :cursorCreatedAt AND run.id < :cursorId', { cursorId: cursor.id }),
        ),
      );
    }
    const rows = await query.getMany();
    const items = rows.slice(0, limit);
    const last = items.at(-1);
    return {
      items: await this.approvals.withPending(items.map(toRunView)),
      nextCursor: rows.length > limit && last ? encodeCursor({ createdAt: last.createdAt, id: last.id }) : null,
    };
  }

  /** The run, if the scope may see it; another user's run is indistinguishable from a missing one. */
  async find(scope: RunScope, runId: string): Promise<Run> {
    const manager = this.database.dataSource.manager;
    const { rows } = scope === 'all' ? await this.database.query<RunRow>(manager, FIND_RUN_SQL, [runId]) : await this.database.query<RunRow>(manager, FIND_USER_RUN_SQL, [runId, scope.userId]);
    if (!rows[0]) throw new ProblemError('run_not_found', `there is no run ${runId}`);
    return runFromRow(rows[0]);
  }

  async get(scope: RunScope, runId: string): Promise<RunView> {
    const [view] = await this.approvals.withPending([toRunView(await this.find(scope, runId))]);
    return view!;
  }

  /**
   * Cancels a queued run at once; for a running one, records the request and
   * lets the node that runs it end its process group (at once when that is
   * this node or Redis tells it, else within a second).
   */
  async cancel(scope: RunScope, runId: string): Promise<RunView> {
    const { run, event, deliveries } = await this.database.transaction(async (manager) => {
      const run = await manager.findOneBy(Run, scope === 'all' ? { id: runId } : { id: runId, userId: scope.userId });
      if (!run) throw new ProblemError('run_not_found', `there is no run ${runId}`);
      if (isFinal(run.status)) {
        throw new ProblemError('run_finished', `run ${runId} has already finished (${run.status})`, { extensions: { runStatus: run.status } });
      }
      if (run.status === 'queued') {
        const finishedAt = new Date().toISOString();
        const update = await manager.update(Run, { id: runId, status: 'queued' }, { status: 'cancelled', cancelRequested: true, finishedAt });
        if (update.affected) {
          const event = await this.events.appendInTransaction(manager, runId, 'status', { status: 'cancelled', reason: 'cancel_requested' }, finishedAt);
          const cancelled = await manager.findOneByOrFail(Run, { id: runId });
          return { run: cancelled, event, deliveries: await this.webhooks.enqueue(manager, toRunView(cancelled), finishedAt) };
        }
      }
      await manager.update(Run, { id: runId }, { cancelRequested: true });
      return { run: await manager.findOneByOrFail(Run, { id: runId }), event: null, deliveries: 0 };
    });
    if (deliveries > 0) this.webhooks.wake();
    if (event) {
      this.queue.forget(runId);
      this.events.publish(runId, [event]);
      this.metrics.runFinished(run.agent, run.status, null, run.finishedAt!);
    } else {
      this.dispatcher.requestCancel(runId);
    }
    return toRunView(run);
  }

  /** The run's stored diff; only runs on a named workspace have one, once they have finished. */
  async diff(scope: RunScope, runId: string): Promise<string> {
    const query = this.runs.createQueryBuilder('run').addSelect('run.diff').where('run.id = :runId', { runId });
    if (scope !== 'all') query.andWhere('run.userId = :userId', { userId: scope.userId });
    const run = await query.getOne();
    if (!run) throw new ProblemError('run_not_found', `there is no run ${runId}`);
    if (run.workspace === null) throw new ProblemError('diff_not_found', `run ${runId} did not run on a named workspace, so it has no diff`);
    if (run.diff === null || run.diff === undefined) {
      throw new ProblemError('diff_not_found', isFinal(run.status) ? `run ${runId} left no diff: its worktree could not be read` : `run ${runId} has not finished; its diff is stored when it does`);
    }
    return run.diff;
  }

  async listEvents(scope: RunScope, runId: string, after: number, limit: number): Promise<{ items: RunEventView[]; nextAfter: number }> {
    await this.find(scope, runId);
    const items = await this.events.list(runId, after, limit);
    return { items, nextAfter: items.at(-1)?.seq ?? after };
  }

  /** The run's plain-text log (stdout, stderr and agent prose, in order), page by page. */
  async *log(runId: string, after = 0): AsyncGenerator<string> {
    for (let cursor = after; ; ) {
      const page = await this.events.list(runId, cursor, LOG_PAGE);
      let chunk = '';
      for (const event of page) {
        const text = logLine(event);
        if (text !== null) chunk += text.endsWith('\n') ? text : text + '\n';
      }
      if (chunk) yield chunk;
      if (page.length < LOG_PAGE) return;
      cursor = page.at(-1)!.seq;
    }
  }
}

export function logLine(event: RunEventView): string | null {
  switch (event.type) {
    case 'stdout':
    case 'stderr':
      return String(event.data.line ?? '');
    case 'message':
      return String(event.data.text ?? '');
    default:
      return null;
  }
}
