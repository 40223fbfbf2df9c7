import { BeforeApplicationShutdown, Inject, Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { In, IsNull, LessThanOrEqual, Not } from 'typeorm';
import type { AppConfig, Tier } from '../config/configuration.js';
import { DatabaseService } from '../database/database.service.js';
import { RunMetrics } from '../metrics/metrics.service.js';
import { QuotaService } from '../quota/quota.service.js';
import { TIER_RESOURCES } from '../quota/tiers.js';
import { combineLimits } from '../sandbox/resource-limits.js';
import { SandboxService } from '../sandbox/sandbox.service.js';
import { WorkspaceService } from '../workspace/workspace.service.js';
import { WebhooksService } from '../webhooks/webhooks.service.js';
import { WorktreesService } from '../workspace/worktrees.service.js';
import { AgentProfilesService } from './agent-profiles.service.js';
import { RUNS_AGENTS } from './agents.tokens.js';
import { Run, type RunError, type RunResult, type RunStatus } from './entities/run.entity.js';
import { Executor, type Execution, type ExecutionOutcome } from './executors/executor.js';
import { processStartTime, signalGroup, terminateGroups } from './executors/process-group.js';
import { RunEventsService } from './run-events.service.js';
import { RunQueue, type QueuedRun } from './run-queue.js';
import { RUN_COLUMNS, runFromRow, type RunRow } from './run-rows.js';
import { toRunView, type RunEventView } from './run.view.js';

/** How often a dispatcher looks for cancellations made by other processes and for queued runs it has not seen. */
const TICK_MS = 1_000;
const SWEEP_LIMIT = 100;
/** How often expired worktrees are looked for (and once at boot). */
const WORKTREE_SWEEP_MS = 60_000;

type StopStatus = 'cancelled' | 'timed_out';

const SET_PGID_SQL = 'UPDATE runs SET pgid = ?, pgid_started_at = ? WHERE id = ?';
const FINISH_SQL =
  'UPDATE runs SET status = ?, finished_at = ?, exit_code = ?, error = ?, result = ?, pgid = NULL, pgid_started_at = NULL, last_seq = last_seq + 1 ' +
  'WHERE id = ? AND status = ? RETURNING last_seq';

/** Whether every promise settled within `ms`. */
async function settledWithin(promises: Promise<unknown>[], ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => (timer = setTimeout(resolve, Math.max(0, ms), false)));
  const result = await Promise.race([Promise.allSettled(promises).then(() => true), timeout]);
  clearTimeout(timer);
  return result;
}

/** A JSON column's value as TypeORM's simple-json stores it. */
function json(value: object | null): string | null {
  return value === null ? null : JSON.stringify(value);
}

const CLAIM_SQL = `UPDATE runs SET status = 'running', started_at = ?, node = ?, last_seq = last_seq + 1 WHERE id = ? AND status = 'queued' RETURNING ${RUN_COLUMNS}`;

interface ActiveRun {
  run: Run;
  /** The owner's tier when the run was claimed: it sets the run's resource limits. */
  tier: Tier;
  /** The most the run may spend in USD: the smaller of its own budget and what its owner had left today when it was claimed. */
  budgetUsd: number;
  execution: Execution | null;
  stop: { status: StopStatus; reason: string } | null;
  timer: NodeJS.Timeout | null;
  done: Promise<void>;
}

interface Ending {
  status: RunStatus;
  reason?: string;
  exitCode: number | null;
  error: RunError | null;
  result: RunResult | null;
}

/**
 * Starts queued runs on this node, in submission order, within the node's
 * capacity and each user's concurrency limit, and ends every run the same
 * way: its whole process group is terminated and its final status and
 * events are stored before the slot is released.
 */
@Injectable()
export class DispatcherService implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger(DispatcherService.name);
  private readonly active = new Map<string, ActiveRun>();
  private readonly node: string;
  private readonly capacity: number;
  private readonly graceMs: number;
  private readonly isSqlite: boolean;
  private draining = false;
  /** Crash recovery: until it is done, readiness is down and no queued run starts. */
  private readonly recovery: { done: boolean; leftovers: number | null; running: Promise<void> | null } = { done: false, leftovers: null, running: null };
  private shutdownDeadline = 0;
  private readonly shutdown: AppConfig['shutdown'];
  private pumping = false;
  private pumpAgain = false;
  private ticker: NodeJS.Timeout | null = null;
  private readonly worktreeRetentionMs: number;
  private worktreeSweep: Promise<void> | null = null;
  private lastWorktreeSweepAt = 0;
  private lastTickAt = 0;
  private readonly cancelRelays: ((runId: string) => void)[] = [];
  private waking: Promise<void> | null = null;
  /** When this node last started a run of each user: the users take turns for free slots. */
  private readonly lastStartedAt = new Map<string, number>();
  private readonly finishedListeners = new Set<(run: Run) => void>();

  constructor(
    config: ConfigService<AppConfig, true>,
    @Inject(RUNS_AGENTS) private readonly runsAgents: boolean,
    private readonly database: DatabaseService,
    private readonly queue: RunQueue,
    private readonly events: RunEventsService,
    private readonly profiles: AgentProfilesService,
    private readonly quota: QuotaService,
    private readonly workspaces: WorkspaceService,
    private readonly worktrees: WorktreesService,
    private readonly executor: Executor,
    private readonly metrics: RunMetrics,
    private readonly sandbox: SandboxService,
    private readonly webhooks: WebhooksService,
  ) {
    this.node = config.get('node', { infer: true });
    this.capacity = config.get('agents.maxConcurrent', { infer: true });
    this.graceMs = config.get('agents.graceSeconds', { infer: true }) * 1000;
    this.isSqlite = config.get('database.type', { infer: true }) === 'sqlite';
    this.shutdown = config.get('shutdown', { infer: true });
    this.worktreeRetentionMs = config.get('workspaces.worktreeRetentionHours', { infer: true }) * 3_600_000;
  }

  get isDraining(): boolean {
    return this.draining;
  }

  /** Whether crash recovery is done (always, on a node that runs no agents), and how many runs it found left running. */
  get recoveryState(): { done: boolean; leftovers: number | null } {
    return { done: !this.runsAgents || this.recovery.done, leftovers: this.recovery.leftovers };
  }

  get activeCount(): number {
    return this.active.size;
  }

  get queuedCount(): number {
    return this.queue.waiting().length;
  }

  /**
   * Starts the loop and, in the background, crash recovery: the server
   * listens meanwhile (readiness down), and accepts submits, which wait
   * queued until what is left of the previous process is ended and recorded,
   * so neither the node's capacity nor a user's limit is exceeded.
   */
  onApplicationBootstrap(): void {
    if (!this.runsAgents) return;
    this.queue.onEnqueue(() => this.pump());
    this.lastTickAt = Date.now();
    this.ticker = setInterval(() => void this.tick(), TICK_MS);
    this.ticker.unref();
    this.startRecovery();
  }

  /**
   * The first step of shutdown, taken the moment it starts: readiness turns
   * down, submits are refused and no queued run starts any more.
   */
  beginDrain(): void {
    if (this.draining) return;
    this.draining = true;
    this.shutdownDeadline = Date.now() + this.shutdown.timeoutSeconds * 1000;
    if (this.ticker) clearInterval(this.ticker);
  }

  /**
   * Ends this node's agents within the shutdown deadline: at once (mode
   * `cancel`), or after letting them finish until the deadline leaves just the
   * grace period (mode `drain`). Each is recorded `cancelled` with reason
   * `server_shutdown`; queued runs stay queued and start after the next boot.
   * Then every event is written and every event stream ends.
   */
  async beforeApplicationShutdown(): Promise<void> {
    this.beginDrain();
    // Leftovers being ended are recorded before the database closes, unless that outlasts the deadline.
    if (this.recovery.running) await settledWithin([this.recovery.running], this.shutdownDeadline - Date.now());
    if (this.shutdown.mode === 'drain') {
      await this.settleActive(this.shutdownDeadline - this.graceMs - 1000 - Date.now());
    }
    for (const entry of this.active.values()) this.stop(entry, 'cancelled', 'server_shutdown');
    if (!(await this.settleActive(this.shutdownDeadline - Date.now()))) this.forceStop();
    await this.settleActive(2_000);
    // A worktree half-removed when the database closes would be swept again, but why leave it so.
    await this.worktreeSweep;
    await this.events.flush();
    this.events.endStreams();
  }

  /** The shutdown deadline passed, or a second signal came: SIGKILL every agent group now; their endings are still recorded. */
  forceStop(): void {
    for (const entry of this.active.values()) {
      this.stop(entry, 'cancelled', 'server_shutdown');
      if (entry.execution?.pgid) signalGroup(entry.execution.pgid, 'SIGKILL');
    }
  }

  /** Waits until no agent runs on this node, for at most `ms`; true when none is left. */
  private async settleActive(ms: number): Promise<boolean> {
    if (this.active.size === 0) return true;
    return (await settledWithin([...this.active.values()].map((entry) => entry.done), ms)) && this.active.size === 0;
  }

  /** Calls `listener` with each run this node finishes, once its final status is stored. */
  onRunFinished(listener: (run: Run) => void): () => void {
    this.finishedListeners.add(listener);
    return () => this.finishedListeners.delete(listener);
  }

  /**
   * Ends the agent of a run that the database says is over though it runs here: another node
   * recorded it interrupted while this one could not write its heartbeat (cut off from the
   * database). The recorded ending stands; this node records nothing more for it.
   */
  private abandon(runId: string, status: RunStatus): void {
    const entry = this.active.get(runId);
    if (!entry) return;
    this.logger.warn({ runId }, `run ${runId} is recorded ${status} by another node: ending its agent here`);
    this.stop(entry, 'cancelled', 'recorded_elsewhere');
  }

  /** Ends a run running on this node; answers whether it was running here. */
  cancelLocal(runId: string): boolean {
    const entry = this.active.get(runId);
    if (entry) this.stop(entry, 'cancelled', 'cancel_requested');
    return entry !== undefined;
  }

  /**
   * A stored cancel request: the run ends here at once when this node runs it; otherwise the
   * other nodes are told (over Redis, when configured), and in any case the owning node finds
   * `cancel_requested` on its next look at the database.
   */
  requestCancel(runId: string): void {
    if (this.cancelLocal(runId)) return;
    for (const tell of this.cancelRelays) tell(runId);
  }

  /** Adds a way to tell the other nodes of a cancel request. */
  relayCancels(tell: (runId: string) => void): void {
    this.cancelRelays.push(tell);
  }

  /** Runs crash recovery unless it is done or under way; a failed attempt is tried again on the next tick. */
  private startRecovery(): void {
    if (this.recovery.done || this.recovery.running || this.draining) return;
    this.recovery.running = this.recover()
      .then(
        () => {
          this.recovery.done = true;
          this.pump();
        },
        (error: Error) => this.logger.error(`crash recovery failed, trying again: ${error.message}`),
      )
      .finally(() => (this.recovery.running = null));
  }

  /**
   * Crash recovery: runs left `running` by this node (on SQLite, by any node,
   * since only one can use the file) become `interrupted`; an agent process
   * group still alive from before is killed, identified by pid and start time
   * so a reused pid is never touched. All of them are ended at once, within
   * one grace period. Queued runs are enqueued again.
   */
  private async recover(): Promise<void> {
    const runs = this.database.dataSource.getRepository(Run);
    const stale = await runs.find({ where: this.isSqlite ? { status: 'running' } : { status: 'running', node: this.node } });
    this.recovery.leftovers = stale.length;
    const targets = await Promise.all(
      stale.map(async (run) => {
        const leaderAlive = run.pgid !== null && run.pgidStartedAt !== null && (await processStartTime(run.pgid)) === run.pgidStartedAt;
        this.logger.warn(`ending what is left of run ${run.id}${leaderAlive ? ` (process group ${run.pgid})` : ''}`);
        return { pgid: leaderAlive ? run.pgid : null, runId: run.id };
      }),
    );
    await terminateGroups(targets, this.graceMs);
    const ending: Ending = { status: 'interrupted', reason: 'node_restarted', exitCode: null, error: { code: 'interrupted', message: 'the server stopped while the run was running' }, result: null };
    const recorded = await Promise.allSettled(stale.map((run) => this.finish(run, ending)));
    const failed = recorded.find((outcome): outcome is PromiseRejectedResult => outcome.status === 'rejected');
    if (failed) throw failed.reason;
    if (stale.length > 0) this.logger.warn(`marked ${stale.length} run(s) interrupted after an unclean stop`);
    await this.sweep();
    this.sweepWorktrees();
  }

  /** Whether this process runs agents, and when its loop last came round (health). */
  get loop(): { runsAgents: boolean; lastTickAt: number } {
    return { runsAgents: this.runsAgents, lastTickAt: this.lastTickAt };
  }

  private async tick(): Promise<void> {
    this.lastTickAt = Date.now();
    if (!this.recovery.done) {
      this.startRecovery();
      return;
    }
    try {
      if (this.active.size > 0) {
        const runs = await this.database.dataSource.getRepository(Run).find({
          where: [
            { id: In([...this.active.keys()]), cancelRequested: true },
            // Only another node writes this for a run that runs here (NodesService, node_lost).
            { id: In([...this.active.keys()]), status: 'interrupted' },
          ],
          select: { id: true, status: true, cancelRequested: true },
        });
        for (const run of runs) {
          if (run.status === 'interrupted') this.abandon(run.id, run.status);
          else this.cancelLocal(run.id);
        }
      }
      if (this.active.size < this.capacity) await this.sweep();
      // A user's limits can rise with no run ending (today's budget resets at 00:00 UTC, an admin raises one).
      if (this.active.size < this.capacity && this.queue.waiting().length > 0) this.pump();
      this.sweepWorktrees();
    } catch (error) {
      this.logger.error(`dispatcher tick failed: ${(error as Error).message}`);
    }
  }

  /**
   * Another node queued a run, or ended one (which may free a user's slot): look at the stored
   * queued runs now rather than at the next tick. Calls while a look is under way coalesce.
   */
  wake(): void {
    if (!this.runsAgents || this.draining || !this.recovery.done || this.waking) return;
    this.waking = this.sweep()
      .then(() => this.pump())
      .catch((error: Error) => this.logger.warn(`looking for queued runs failed: ${error.message}`))
      .finally(() => (this.waking = null));
  }

  /** Enqueues stored queued runs this node does not know yet (submitted through another process, or before a restart). */
  private async sweep(): Promise<void> {
    const queued = await this.database.dataSource.getRepository(Run).find({
      where: { status: 'queued' },
      select: { id: true, userId: true, createdAt: true },
      order: { createdAt: 'ASC' },
      take: SWEEP_LIMIT,
    });
    for (const run of queued) {
      if (!this.queue.has(run.id)) this.queue.enqueue({ id: run.id, userId: run.userId, createdAt: run.createdAt });
    }
  }

  /** Starts a sweep of expired worktrees unless one ran within the last minute or is still going. */
  private sweepWorktrees(): void {
    if (this.worktreeSweep || Date.now() - this.lastWorktreeSweepAt < WORKTREE_SWEEP_MS) return;
    this.lastWorktreeSweepAt = Date.now();
    this.worktreeSweep = this.removeExpiredWorktrees()
      .catch((error: Error) => this.logger.error(`worktree sweep failed: ${error.message}`))
      .finally(() => (this.worktreeSweep = null));
  }

  /**
   * Removes the worktrees of this node's runs that finished more than
   * WORKTREE_RETENTION_HOURS ago (on SQLite, of every run), a batch per sweep.
   * Their branches, and their diffs in the database, stay.
   */
  private async removeExpiredWorktrees(): Promise<void> {
    const runs = this.database.dataSource.getRepository(Run);
    const cutoff = new Date(Date.now() - this.worktreeRetentionMs).toISOString();
    const expired = await runs.find({
      where: { baseCommit: Not(IsNull()), worktreeRemovedAt: IsNull(), finishedAt: LessThanOrEqual(cutoff), ...(this.isSqlite ? {} : { node: this.node }) },
      select: { id: true, userId: true, workspace: true },
      order: { finishedAt: 'ASC' },
      take: SWEEP_LIMIT,
    });
    for (const run of expired) {
      try {
        await this.worktrees.remove(run.userId, run.workspace!, run.id);
        await runs.update({ id: run.id }, { worktreeRemovedAt: new Date().toISOString() });
      } catch (error) {
        this.logger.warn(`run ${run.id}: its worktree could not be removed: ${(error as Error).message}`);
      }
    }
  }

  /** Starts as many waiting runs as capacity and user limits allow. Re-entrant calls coalesce. */
  pump(): void {
    if (!this.runsAgents || this.draining || !this.recovery.done) return;
    if (this.pumping) {
      this.pumpAgain = true;
      return;
    }
    this.pumping = true;
    void this.pumpLoop().finally(() => {
      this.pumping = false;
      if (this.pumpAgain) {
        this.pumpAgain = false;
        this.pump();
      }
    });
  }

  /**
   * The waiting runs in the order they should get a slot: the users take turns, the one this
   * node started a run for longest ago (or never) first, each user's runs oldest first. A user
   * with a hundred runs queued ahead of another's five does not make the other wait for all of them.
   */
  private fairOrder(waiting: readonly QueuedRun[]): QueuedRun[] {
    const byUser = new Map<string, QueuedRun[]>();
    for (const run of waiting) {
      const runs = byUser.get(run.userId);
      if (runs) runs.push(run);
      else byUser.set(run.userId, [run]);
    }
    const users = [...byUser.keys()].sort((a, b) => (this.lastStartedAt.get(a) ?? 0) - (this.lastStartedAt.get(b) ?? 0) || (byUser.get(a)![0]!.createdAt < byUser.get(b)![0]!.createdAt ? -1 : 1));
    const order: QueuedRun[] = [];
    for (let turn = 0; order.length < waiting.length; turn++) {
      for (const user of users) {
        const run = byUser.get(user)![turn];
        if (run) order.push(run);
      }
    }
    return order;
  }

  private async pumpLoop(): Promise<void> {
    const usersAtLimit = new Set<string>();
    for (const candidate of this.fairOrder(this.queue.waiting())) {
      if (this.draining || this.active.size >= this.capacity) return;
      if (usersAtLimit.has(candidate.userId)) continue;
      try {
        const claimed = await this.claim(candidate);
        if (claimed === 'user_at_limit') {
          usersAtLimit.add(candidate.userId);
          continue;
        }
        this.queue.remove(candidate.id);
        if (claimed !== 'gone') {
          if (claimed.deliveries > 0) this.webhooks.wake();
          this.launch(claimed.run, claimed.event, claimed.tier, claimed.budgetUsd);
        }
      } catch (error) {
        this.logger.error(`could not start run ${candidate.id}: ${(error as Error).message}`);
        return;
      }
    }
  }

  /**
   * Moves one run from `queued` to `running` in one transaction that locks the
   * user's row, so a user's limit holds whichever node claims.
   */
  private claim(candidate: QueuedRun): Promise<{ run: Run; event: RunEventView; tier: Tier; budgetUsd: number; deliveries: number } | 'user_at_limit' | 'gone'> {
    return this.database.transaction(async (manager) => {
      const limits = await this.quota.startLimits(manager, candidate.userId);
      if (!limits) return 'user_at_limit';
      const startedAt = new Date().toISOString();
      // The update also takes the `seq` of the `running` event and returns the run as it now is.
      const [row] = (await this.database.query<RunRow>(manager, CLAIM_SQL, [startedAt, this.node, candidate.id])).rows;
      if (!row) return 'gone';
      const run = runFromRow(row);
      const event = await this.events.insertOne(manager, run.id, run.lastSeq, 'status', { status: 'running' }, startedAt);
      const deliveries = await this.webhooks.enqueue(manager, toRunView(run), startedAt);
      return { run, event, tier: limits.tier, budgetUsd: Math.min(run.maxBudgetUsd ?? Infinity, limits.budgetLeftUsd), deliveries };
    });
  }

  private launch(run: Run, runningEvent: RunEventView, tier: Tier, budgetUsd: number): void {
    this.lastStartedAt.set(run.userId, Date.now());
    this.events.publish(run.id, [runningEvent]);
    this.metrics.runStarted(run.createdAt, run.startedAt!);
    this.logger.log({ runId: run.id, userId: run.userId, agent: run.agent }, 'run started');
    this.events.track(run.id, run.lastSeq);
    const entry: ActiveRun = { run, tier, budgetUsd, execution: null, stop: null, timer: null, done: Promise.resolve() };
    this.active.set(run.id, entry);
    entry.done = this.supervise(entry)
      .catch(async (error: Error) => {
        // Whatever went wrong on our side, the run must not stay `running`: its agent goes and the run fails.
        this.logger.error(`run ${run.id} failed in the dispatcher: ${error.message}`);
        await entry.execution?.terminate();
        await this.finish(run, { status: 'failed', exitCode: null, error: { code: 'internal_error', message: 'the server could not run this agent' }, result: null });
      })
      .catch((error: Error) => this.logger.error(`run ${run.id} could not be recorded: ${error.message}`))
      .finally(() => {
        if (entry.timer) clearTimeout(entry.timer);
        this.events.untrack(run.id);
        this.active.delete(run.id);
        this.pump();
      });
  }

  private async supervise(entry: ActiveRun): Promise<void> {
    const { run } = entry;
    const profile = this.profiles.find(run.agent);
    if (!profile) {
      await this.finish(run, { status: 'failed', exitCode: null, error: { code: 'unknown_agent', message: `agent profile "${run.agent}" no longer exists` }, result: null });
      return;
    }
    let prepared: { cwd: string; home: string; readOnly: string[] };
    try {
      prepared = await this.prepareWorkspace(run);
      await this.sandbox.prepare(prepared);
    } catch (error) {
      this.logger.error(`run ${run.id}: its workspace could not be prepared: ${(error as Error).message}`);
      await this.finish(run, { status: 'failed', exitCode: null, error: { code: 'workspace_unavailable', message: `workspace "${run.workspace}" could not be prepared for this run` }, result: null });
      return;
    }
    const { cwd, home, readOnly } = prepared;
    const limits = combineLimits(TIER_RESOURCES[entry.tier], profile.limits);
    entry.timer = setTimeout(() => this.stop(entry, 'timed_out', 'timeout'), run.timeoutSeconds * 1000);
    const execution = await this.executor.start({
      runId: run.id,
      userId: run.userId,
      prompt: run.prompt,
      model: run.model,
      profile,
      cwd,
      home,
      readOnly,
      limits,
      budgetUsd: entry.budgetUsd,
      graceMs: this.graceMs,
      onEvent: (type, data) => this.events.append(run.id, type, data),
    });
    entry.execution = execution;
    if (execution.pgid !== null) {
      await this.database.query(this.database.dataSource.manager, SET_PGID_SQL, [execution.pgid, execution.pgidStartedAt, run.id]);
    }
    // A stop requested while the agent was starting takes effect now.
    if (entry.stop) void execution.terminate();
    const outcome = await execution.finished;
    // Before the server commits and diffs it, and before anyone is told the run has finished.
    await this.sandbox.reclaim(profile, cwd);
    await this.finish(run, this.ending(entry, outcome));
  }

  /**
   * A fresh empty directory, or for a run on a named workspace a worktree of
   * it on branch `autocode/<run id>` from the workspace's current HEAD.
   */
  private async prepareWorkspace(run: Run): Promise<{ cwd: string; home: string; readOnly: string[] }> {
    if (run.workspace === null) return { ...(await this.workspaces.prepareRun(run.userId, run.id)), readOnly: [] };
    const base = await this.worktrees.head(run.userId, run.workspace);
    // Stored before the worktree exists: whatever happens next, the run's end and the retention sweep know of it.
    await this.database.dataSource.getRepository(Run).update({ id: run.id }, { baseCommit: base });
    run.baseCommit = base;
    const cwd = await this.worktrees.add(run.userId, run.workspace, run.id, base);
    // The worktree's history lives in the workspace's repository: the agent may read it (git log, diff, status), not change it.
    const repository = await this.worktrees.repositoryGitDir(run.userId, run.workspace);
    return { cwd, home: await this.workspaces.prepareHome(run.userId), readOnly: [repository] };
  }


  /**
   * For a run on a named workspace: commits what it changed on its branch and
   * returns its diff to store; with a retention of 0, its worktree goes now.
   */
  private async closeWorktree(run: Run): Promise<Partial<Pick<Run, 'diff' | 'worktreeRemovedAt'>>> {
    if (run.workspace === null || run.baseCommit === null) return {};
    const changes: Partial<Pick<Run, 'diff' | 'worktreeRemovedAt'>> = {};
    try {
      changes.diff = await this.worktrees.commitAndDiff(run.userId, run.workspace, run.id, run.baseCommit);
    } catch (error) {
      this.logger.error(`run ${run.id}: its changes could not be committed: ${(error as Error).message}`);
    }
    // Work that could not be committed stays in the worktree until the retention sweep, for someone to rescue.
    if (this.worktreeRetentionMs === 0 && changes.diff !== undefined) {
      try {
        await this.worktrees.remove(run.userId, run.workspace, run.id);
        changes.worktreeRemovedAt = new Date().toISOString();
      } catch (error) {
        this.logger.warn(`run ${run.id}: its worktree could not be removed: ${(error as Error).message}`);
      }
    }
    return changes;
  }

  private ending(entry: ActiveRun, outcome: ExecutionOutcome): Ending {
    const result = outcome.parsed.result ?? null;
    if (entry.stop) {
      return { status: entry.stop.status, reason: entry.stop.reason, exitCode: outcome.exitCode, error: null, result };
    }
    if (outcome.spawnError) {
      return { status: 'failed', exitCode: null, error: outcome.spawnError, result };
    }
    if (outcome.exitCode === 0 && !outcome.parsed.error) {
      return { status: 'succeeded', exitCode: 0, error: null, result };
    }
    const error = outcome.parsed.error ?? {
      code: 'agent_failed',
      message: outcome.exitCode !== null ? `the agent exited with code ${outcome.exitCode}` : `the agent was killed by ${outcome.signal}`,
    };
    return { status: 'failed', exitCode: outcome.exitCode, error, result };
  }

  private stop(entry: ActiveRun, status: StopStatus, reason: string): void {
    if (entry.stop) return;
    entry.stop = { status, reason };
    if (entry.execution) void entry.execution.terminate();
  }

  /**
   * Records as interrupted a run whose node stopped answering (see NodesService): its agent and
   * its worktree are on that node, out of reach, so nothing is ended or committed here.
   */
  async interruptLost(run: Run): Promise<void> {
    const message = `node ${run.node} stopped answering while the run was running`;
    await this.finish(run, { status: 'interrupted', reason: 'node_lost', exitCode: null, error: { code: 'interrupted', message }, result: null }, { closeWorktree: false });
  }

  /** Stores the final status and its event in one transaction, after every output event of the run. */
  private async finish(run: Run, ending: Ending, { closeWorktree = true } = {}): Promise<void> {
    await this.events.flush();
    // Before the final status, so a client that sees the run finished can fetch its diff.
    const worktree = closeWorktree ? await this.closeWorktree(run) : {};
    const finishedAt = new Date().toISOString();
    const finished = await this.database.transaction(async (manager) => {
      const from = run.status === 'queued' ? 'queued' : 'running';
      const parameters = [ending.status, finishedAt, ending.exitCode, json(ending.error), json(ending.result), run.id, from];
      // The update also takes the `seq` of the final status event.
      const [row] = (await this.database.query<{ last_seq: number }>(manager, FINISH_SQL, parameters)).rows;
      if (!row) return null;
      if (Object.keys(worktree).length > 0) await manager.update(Run, { id: run.id }, worktree);
      const data = { status: ending.status, ...(ending.reason ? { reason: ending.reason } : {}) };
      const ended: Run = { ...run, ...worktree, status: ending.status, finishedAt, exitCode: ending.exitCode, error: ending.error, result: ending.result, lastSeq: row.last_seq };
      // The outbox: the run's event is delivered if and only if its final status is stored.
      const deliveries = await this.webhooks.enqueue(manager, toRunView(ended), finishedAt);
      return { ended, event: await this.events.insertOne(manager, run.id, row.last_seq, 'status', data, finishedAt), deliveries };
    });
    if (finished) {
      const { ended, event, deliveries } = finished;
      if (deliveries > 0) this.webhooks.wake();
      this.events.publish(run.id, [event]);
      this.metrics.runFinished(run.agent, ending.status, run.startedAt, finishedAt);
      this.logger.log({ runId: run.id, userId: run.userId, status: ending.status, exitCode: ending.exitCode, reason: ending.reason }, 'run finished');
      for (const listener of this.finishedListeners) listener(ended);
    }
  }
}
