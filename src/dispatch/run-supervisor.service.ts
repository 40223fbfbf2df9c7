import { Injectable, Logger } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import type { AppConfig, Tier } from '../config/configuration.js';
import { DatabaseService } from '../database/database.service.js';
import { RunMetrics } from '../metrics/metrics.service.js';
import { TIER_RESOURCES } from '../quota/tiers.js';
import { combineLimits } from '../sandbox/resource-limits.js';
import { SandboxService } from '../sandbox/sandbox.service.js';
import { WebhooksService } from '../webhooks/webhooks.service.js';
import { AgentProfilesService } from '../agents/agent-profiles.service.js';
import { Executor, type Execution, type ExecutionOutcome } from '../agents/executors/executor.js';
import { signalGroup } from '../agents/executors/process-group.js';
import { Run, type RunError, type RunResult, type RunStatus } from '../runs/entities/run.entity.js';
import { RunEventsService } from '../runs/run-events.service.js';
import { ApprovalsService } from '../runs/approvals.service.js';
import { toRunView, type RunEventView } from '../runs/run.view.js';
import { RunInboxesService } from './run-inboxes.service.js';
import { RunWorkspaces } from './run-workspaces.js';

type StopStatus = 'cancelled' | 'timed_out';

const SET_PGID_SQL = 'UPDATE runs SET pgid = ?, pgid_started_at = ? WHERE id = ?';
const FINISH_SQL =
  'UPDATE runs SET status = ?, finished_at = ?, exit_code = ?, error = ?, result = ?, pgid = NULL, pgid_started_at = NULL, last_seq = last_seq + 1 ' +
  'WHERE id = ? AND status = ? RETURNING last_seq';

/** How a run ends: its final status and what is recorded with it. */
export interface Ending {
  status: RunStatus;
  reason?: string;
  exitCode: number | null;
  error: RunError | null;
  result: RunResult | null;
}

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

/** Whether every promise settled within `ms`. */
export async function settledWithin(promises: Promise<unknown>[], ms: number): Promise<boolean> {
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

/**
 * The runs that run on this node, from the claim to the stored end: starts
 * each agent in its workspace, stops it on cancel or timeout, and ends every
 * run the same way: its whole process group is terminated and its final
 * status and events are stored before the slot is released.
 */
@Injectable()
export class RunSupervisor {
  private readonly logger = new Logger(RunSupervisor.name);
  private readonly active = new Map<string, ActiveRun>();
  private readonly graceMs: number;
  private readonly finishedListeners = new Set<(run: Run) => void>();

  constructor(
    config: ConfigService<AppConfig, true>,
    private readonly database: DatabaseService,
    private readonly events: RunEventsService,
    private readonly profiles: AgentProfilesService,
    private readonly executor: Executor,
    private readonly metrics: RunMetrics,
    private readonly sandbox: SandboxService,
    private readonly webhooks: WebhooksService,
    private readonly workspaces: RunWorkspaces,
    private readonly inboxes: RunInboxesService,
    private readonly approvals: ApprovalsService,
  ) {
    this.graceMs = config.get('agents.graceSeconds', { infer: true }) * 1000;
  }

  get size(): number {
    return this.active.size;
  }

  /** The ids of the runs running here. */
  ids(): string[] {
    return [...this.active.keys()];
  }

  /** Calls `listener` with each run this node finishes, once its final status is stored. */
  onRunFinished(listener: (run: Run) => void): () => void {
    this.finishedListeners.add(listener);
    return () => this.finishedListeners.delete(listener);
  }

  /** Starts the agent of a run just claimed by this node; settles once its end is stored and its slot is free. */
  launch(run: Run, runningEvent: RunEventView, tier: Tier, budgetUsd: number): Promise<void> {
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
        this.inboxes.close(run.id);
        this.events.untrack(run.id);
        this.active.delete(run.id);
      });
    return entry.done;
  }

  /** Stops a run running here (its end is recorded with `status` and `reason`); answers whether it runs here. */
  stop(runId: string, status: StopStatus, reason: string): boolean {
    const entry = this.active.get(runId);
    if (!entry) return false;
    if (entry.stop) return true;
    entry.stop = { status, reason };
    if (entry.execution) void entry.execution.terminate();
    return true;
  }

  /** Stops every run here; with `kill`, SIGKILLs their process groups at once. Their endings are still recorded. */
  stopAll(reason: string, { kill = false } = {}): void {
    for (const entry of this.active.values()) {
      this.stop(entry.run.id, 'cancelled', reason);
      if (kill && entry.execution?.pgid) signalGroup(entry.execution.pgid, 'SIGKILL');
    }
  }

  /** Waits until no agent runs on this node, for at most `ms`; true when none is left. */
  async settle(ms: number): Promise<boolean> {
    if (this.active.size === 0) return true;
    return (await settledWithin([...this.active.values()].map((entry) => entry.done), ms)) && this.active.size === 0;
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
      prepared = await this.workspaces.prepare(run);
      await this.sandbox.prepare(prepared);
    } catch (error) {
      this.logger.error(`run ${run.id}: its workspace could not be prepared: ${(error as Error).message}`);
      await this.finish(run, { status: 'failed', exitCode: null, error: { code: 'workspace_unavailable', message: `workspace "${run.workspace}" could not be prepared for this run` }, result: null });
      return;
    }
    const { cwd, home, readOnly } = prepared;
    const limits = combineLimits(TIER_RESOURCES[entry.tier], profile.limits);
    entry.timer = setTimeout(() => this.stop(run.id, 'timed_out', 'timeout'), run.timeoutSeconds * 1000);
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
      parentRunId: run.parentRunId,
      inbox: this.inboxes.inboxFor(run.id),
      ...(profile.executor === 'claude' && profile.approvals ? { requestApproval: this.approvals.gate(run, profile.approvals) } : {}),
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

  /**
   * Records as interrupted a run whose node stopped answering (see NodesService): its agent and
   * its worktree are on that node, out of reach, so nothing is ended or committed here.
   */
  async interruptLost(run: Run): Promise<void> {
    const message = `node ${run.node} stopped answering while the run was running`;
    await this.finish(run, { status: 'interrupted', reason: 'node_lost', exitCode: null, error: { code: 'interrupted', message }, result: null }, { closeWorktree: false });
  }

  /** Stores the final status and its event in one transaction, after every output event of the run. */
  async finish(run: Run, ending: Ending, { closeWorktree = true } = {}): Promise<void> {
    await this.events.flush();
    // Before the final status, so a client that sees the run finished can fetch its diff.
    const worktree = closeWorktree ? await this.workspaces.close(run) : {};
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
