import { BeforeApplicationShutdown, Inject, Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { In } from 'typeorm';
import type { AppConfig, Tier } from '../config/configuration.js';
import { DatabaseService } from '../database/database.service.js';
import { QuotaService } from '../quota/quota.service.js';
import { WebhooksService } from '../webhooks/webhooks.service.js';
import { RUNS_AGENTS } from '../agents/agents.tokens.js';
import { Run, type RunStatus } from '../runs/entities/run.entity.js';
import { RunEventsService } from '../runs/run-events.service.js';
import { RUN_COLUMNS, runFromRow, type RunRow } from '../runs/run-rows.js';
import { toRunView, type RunEventView } from '../runs/run.view.js';
import { RecoveryService } from './recovery.service.js';
import { RunQueue, type Delivery, type QueuedRun } from './run-queue.js';
import { RunSupervisor, settledWithin } from './run-supervisor.service.js';

/** How often a dispatcher looks for cancellations made by other processes and for queued runs no queue holds. */
const TICK_MS = 1_000;
const SWEEP_LIMIT = 100;

const CLAIM_SQL = `UPDATE runs SET status = 'running', started_at = ?, node = ?, last_seq = last_seq + 1 WHERE id = ? AND status = 'queued' RETURNING ${RUN_COLUMNS}`;

/**
 * Starts queued runs on this node as its queue hands them out (in-process,
 * or BullMQ with `REDIS_URL`): each is claimed in one transaction that locks
 * its user's row, so a user's limit holds whichever node claims, then run by
 * the supervisor. Owns the node's lifecycle as a runner of agents: crash
 * recovery before the first start, cancels, and the shutdown per
 * `SHUTDOWN_MODE`.
 */
@Injectable()
export class DispatcherService implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger(DispatcherService.name);
  private readonly node: string;
  private readonly graceMs: number;
  private draining = false;
  /** Crash recovery: until it is done, readiness is down and no queued run starts. */
  private readonly recovery: { done: boolean; leftovers: number | null; running: Promise<void> | null } = { done: false, leftovers: null, running: null };
  private shutdownDeadline = 0;
  private readonly shutdown: AppConfig['shutdown'];
  private ticker: NodeJS.Timeout | null = null;
  private lastTickAt = 0;
  private readonly cancelRelays: ((runId: string) => void)[] = [];
  private waking: Promise<void> | null = null;
  private lastSweepAt = 0;

  constructor(
    config: ConfigService<AppConfig, true>,
    @Inject(RUNS_AGENTS) private readonly runsAgents: boolean,
    private readonly database: DatabaseService,
    private readonly queue: RunQueue,
    private readonly events: RunEventsService,
    private readonly quota: QuotaService,
    private readonly webhooks: WebhooksService,
    private readonly supervisor: RunSupervisor,
    private readonly recoveries: RecoveryService,
  ) {
    this.node = config.get('node', { infer: true });
    this.graceMs = config.get('agents.graceSeconds', { infer: true }) * 1000;
    this.shutdown = config.get('shutdown', { infer: true });
  }

  get isDraining(): boolean {
    return this.draining;
  }

  /** Whether crash recovery is done (always, on a node that runs no agents), and how many runs it found left running. */
  get recoveryState(): { done: boolean; leftovers: number | null } {
    return { done: !this.runsAgents || this.recovery.done, leftovers: this.recovery.leftovers };
  }

  get activeCount(): number {
    return this.supervisor.size;
  }

  get queuedCount(): number {
    return this.queue.depth;
  }

  /** Which queue hands out runs here: `in-process` or `bullmq`. */
  get queueAdapter(): string {
    return this.queue.adapter;
  }

  /** Calls `listener` with each run this node finishes, once its final status is stored. */
  onRunFinished(listener: (run: Run) => void): () => void {
    return this.supervisor.onRunFinished(listener);
  }

  /** Records as interrupted a run whose node stopped answering (see NodesService). */
  interruptLost(run: Run): Promise<void> {
    return this.supervisor.interruptLost(run);
  }

  /**
   * Starts the loop and, in the background, crash recovery: the server
   * listens meanwhile (readiness down), and accepts submits, which wait
   * queued until what is left of the previous process is ended and recorded,
   * so neither the node's capacity nor a user's limit is exceeded.
   */
  onApplicationBootstrap(): void {
    if (!this.runsAgents) return;
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
    void this.queue.pause().catch((error: Error) => this.logger.warn(`the run queue could not be paused: ${error.message}`));
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
      await this.supervisor.settle(this.shutdownDeadline - this.graceMs - 1000 - Date.now());
    }
    this.supervisor.stopAll('server_shutdown');
    if (!(await this.supervisor.settle(this.shutdownDeadline - Date.now()))) this.forceStop();
    await this.supervisor.settle(2_000);
    await this.recoveries.settled();
    await this.queue.close();
    await this.events.flush();
    this.events.endStreams();
  }

  /** The shutdown deadline passed, or a second signal came: SIGKILL every agent group now; their endings are still recorded. */
  forceStop(): void {
    this.supervisor.stopAll('server_shutdown', { kill: true });
  }

  /** Ends a run running on this node; answers whether it was running here. */
  cancelLocal(runId: string): boolean {
    return this.supervisor.stop(runId, 'cancelled', 'cancel_requested');
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
    this.recovery.running = this.recoveries
      .recover()
      .then(async (leftovers) => {
        this.recovery.leftovers = leftovers;
        await this.sweep();
        this.recovery.done = true;
        this.queue.consume((run) => this.claimAndLaunch(run));
      })
      .catch((error: Error) => this.logger.error(`crash recovery failed, trying again: ${error.message}`))
      .finally(() => (this.recovery.running = null));
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
      const active = this.supervisor.ids();
      if (active.length > 0) {
        const runs = await this.database.dataSource.getRepository(Run).find({
          where: [
            { id: In(active), cancelRequested: true },
            // Only another node writes this for a run that runs here (NodesService, node_lost).
            { id: In(active), status: 'interrupted' },
          ],
          select: { id: true, status: true, cancelRequested: true },
        });
        for (const run of runs) {
          if (run.status === 'interrupted') this.abandon(run.id, run.status);
          else this.cancelLocal(run.id);
        }
      }
      if (Date.now() - this.lastSweepAt >= this.queue.sweepIntervalMs) await this.sweep();
      // A user's limits can rise with no run ending (today's budget resets at 00:00 UTC, an admin raises one).
      if (this.queue.depth > 0) this.queue.wake();
      this.recoveries.sweepWorktrees();
    } catch (error) {
      this.logger.error(`dispatcher tick failed: ${(error as Error).message}`);
    }
  }

  /**
   * Ends the agent of a run that the database says is over though it runs here: another node
   * recorded it interrupted while this one could not write its heartbeat (cut off from the
   * database). The recorded ending stands; this node records nothing more for it.
   */
  private abandon(runId: string, status: RunStatus): void {
    if (this.supervisor.stop(runId, 'cancelled', 'recorded_elsewhere')) {
      this.logger.warn({ runId }, `run ${runId} is recorded ${status} by another node: ending its agent here`);
    }
  }

  /**
   * Another node queued a run, or ended one (which may free a user's slot): look at the stored
   * queued runs now rather than at the next tick. Calls while a look is under way coalesce.
   */
  wake(): void {
    // BullMQ hands out runs submitted anywhere; only a queue fed by the database needs the look.
    if (this.queue.adapter !== 'in-process') return;
    if (!this.runsAgents || this.draining || !this.recovery.done || this.waking) return;
    this.waking = this.sweep()
      .then(() => this.queue.wake())
      .catch((error: Error) => this.logger.warn(`looking for queued runs failed: ${error.message}`))
      .finally(() => (this.waking = null));
  }

  /**
   * Hands the queue the stored queued runs, oldest first: those submitted through another process
   * without Redis, before a restart, or whose enqueue was lost (a crash between the commit and
   * the enqueue, Redis away). A queue holds each run once, so this is idempotent.
   */
  private async sweep(): Promise<void> {
    this.lastSweepAt = Date.now();
    const queued = await this.database.dataSource.getRepository(Run).find({
      where: { status: 'queued' },
      select: { id: true, userId: true, createdAt: true },
      order: { createdAt: 'ASC' },
      take: SWEEP_LIMIT,
    });
    // Each run's place among its user's queued runs (the users take turns by it).
    const ahead = new Map<string, number>();
    const runs = queued.map((run) => {
      const position = ahead.get(run.userId) ?? 0;
      ahead.set(run.userId, position + 1);
      return { id: run.id, userId: run.userId, createdAt: run.createdAt, position };
    });
    await this.queue.enqueueAll(runs);
  }

  /** The queue's handler: claims the run and, when it may start, starts it; the slot is held until it ends. */
  private async claimAndLaunch(candidate: QueuedRun): Promise<Delivery> {
    if (this.draining) return { outcome: 'user_at_limit' };
    const claimed = await this.claim(candidate);
    if (claimed === 'user_at_limit' || claimed === 'gone') return { outcome: claimed };
    if (claimed.deliveries > 0) this.webhooks.wake();
    const ended = this.supervisor.launch(claimed.run, claimed.event, claimed.tier, claimed.budgetUsd);
    void ended.finally(() => this.queue.wake(claimed.run.userId));
    return { outcome: 'started', ended };
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
}
