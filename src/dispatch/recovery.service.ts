import { Injectable, Logger } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { IsNull, LessThanOrEqual, Not } from 'typeorm';
import type { AppConfig } from '../config/configuration.js';
import { DatabaseService } from '../database/database.service.js';
import { processStartTime, terminateGroups } from '../agents/executors/process-group.js';
import { Run } from '../runs/entities/run.entity.js';
import { RunSupervisor, type Ending } from './run-supervisor.service.js';
import { RunWorkspaces } from './run-workspaces.js';

const SWEEP_LIMIT = 100;
/** How often expired worktrees are looked for (and once at boot). */
const WORKTREE_SWEEP_MS = 60_000;

/** What a node cleans up after itself: runs left running by a previous process, and expired worktrees. */
@Injectable()
export class RecoveryService {
  private readonly logger = new Logger(RecoveryService.name);
  private readonly node: string;
  private readonly isSqlite: boolean;
  private readonly graceMs: number;
  private worktreeSweep: Promise<void> | null = null;
  private lastWorktreeSweepAt = 0;

  constructor(
    config: ConfigService<AppConfig, true>,
    private readonly database: DatabaseService,
    private readonly supervisor: RunSupervisor,
    private readonly workspaces: RunWorkspaces,
  ) {
    this.node = config.get('node', { infer: true });
    this.isSqlite = config.get('database.type', { infer: true }) === 'sqlite';
    this.graceMs = config.get('agents.graceSeconds', { infer: true }) * 1000;
  }

  /**
   * Crash recovery: runs left `running` by this node (on SQLite, by any node,
   * since only one can use the file) become `interrupted`; an agent process
   * group still alive from before is killed, identified by pid and start time
   * so a reused pid is never touched. All of them are ended at once, within
   * one grace period. Answers how many there were.
   */
  async recover(): Promise<number> {
    const runs = this.database.dataSource.getRepository(Run);
    const stale = await runs.find({ where: this.isSqlite ? { status: 'running' } : { status: 'running', node: this.node } });
    const targets = await Promise.all(
      stale.map(async (run) => {
        const leaderAlive = run.pgid !== null && run.pgidStartedAt !== null && (await processStartTime(run.pgid)) === run.pgidStartedAt;
        this.logger.warn(`ending what is left of run ${run.id}${leaderAlive ? ` (process group ${run.pgid})` : ''}`);
        return { pgid: leaderAlive ? run.pgid : null, runId: run.id };
      }),
    );
    await terminateGroups(targets, this.graceMs);
    const ending: Ending = { status: 'interrupted', reason: 'node_restarted', exitCode: null, error: { code: 'interrupted', message: 'the server stopped while the run was running' }, result: null };
    const recorded = await Promise.allSettled(stale.map((run) => this.supervisor.finish(run, ending)));
    const failed = recorded.find((outcome): outcome is PromiseRejectedResult => outcome.status === 'rejected');
    if (failed) throw failed.reason;
    if (stale.length > 0) this.logger.warn(`marked ${stale.length} run(s) interrupted after an unclean stop`);
    this.sweepWorktrees();
    return stale.length;
  }

  /** Starts a sweep of expired worktrees unless one ran within the last minute or is still going. */
  sweepWorktrees(): void {
    if (this.worktreeSweep || Date.now() - this.lastWorktreeSweepAt < WORKTREE_SWEEP_MS) return;
    this.lastWorktreeSweepAt = Date.now();
    this.worktreeSweep = this.removeExpiredWorktrees()
      .catch((error: Error) => this.logger.error(`worktree sweep failed: ${error.message}`))
      .finally(() => (this.worktreeSweep = null));
  }

  /** The sweep under way, if any: a worktree half-removed when the database closes would be swept again, but why leave it so. */
  async settled(): Promise<void> {
    await this.worktreeSweep;
  }

  /**
   * Removes the worktrees of this node's runs that finished more than
   * WORKTREE_RETENTION_HOURS ago (on SQLite, of every run), a batch per sweep.
   * Their branches, and their diffs in the database, stay.
   */
  private async removeExpiredWorktrees(): Promise<void> {
    const cutoff = new Date(Date.now() - this.workspaces.retentionMs).toISOString();
    const expired = await this.database.dataSource.getRepository(Run).find({
      where: { baseCommit: Not(IsNull()), worktreeRemovedAt: IsNull(), finishedAt: LessThanOrEqual(cutoff), ...(this.isSqlite ? {} : { node: this.node }) },
      select: { id: true, userId: true, workspace: true },
      order: { finishedAt: 'ASC' },
      take: SWEEP_LIMIT,
    });
    for (const run of expired) {
      try {
        await this.workspaces.expire(run);
      } catch (error) {
        this.logger.warn(`run ${run.id}: its worktree could not be removed: ${(error as Error).message}`);
      }
    }
  }
}
