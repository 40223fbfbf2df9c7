import { Injectable, Logger } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { cp } from 'node:fs/promises';
import type { AppConfig } from '../config/configuration.js';
import { DatabaseService } from '../database/database.service.js';
import { Run } from '../runs/entities/run.entity.js';
import { WorkspaceService } from '../workspace/workspace.service.js';
import { WorktreesService } from '../workspace/worktrees.service.js';

/** Where a run's agent works: set up before it starts, committed and diffed after it ends. */
@Injectable()
export class RunWorkspaces {
  private readonly logger = new Logger(RunWorkspaces.name);
  readonly retentionMs: number;

  constructor(
    config: ConfigService<AppConfig, true>,
    private readonly database: DatabaseService,
    private readonly workspaces: WorkspaceService,
    private readonly worktrees: WorktreesService,
  ) {
    this.retentionMs = config.get('workspaces.worktreeRetentionHours', { infer: true }) * 3_600_000;
  }

  /**
   * A fresh empty directory, or for a run on a named workspace a worktree of
   * it on branch `autocode/<run id>` from the workspace's current HEAD. A
   * follow-up continues where its parent left off: its branch starts from the
   * tip of the parent's branch (its diff is then what the follow-up changed),
   * and without a named workspace its directory starts as a copy of the parent's.
   */
  async prepare(run: Run): Promise<{ cwd: string; home: string; readOnly: string[] }> {
    if (run.workspace === null) {
      const prepared = await this.workspaces.prepareRun(run.userId, run.id);
      if (run.parentRunId !== null) await cp(this.workspaces.runDir(run.userId, run.parentRunId), prepared.cwd, { recursive: true, force: false, errorOnExist: false }).catch(() => undefined);
      return { ...prepared, readOnly: [] };
    }
    const parentHead = run.parentRunId !== null ? await this.worktrees.runHead(run.userId, run.workspace, run.parentRunId) : null;
    const base = parentHead ?? (await this.worktrees.head(run.userId, run.workspace));
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
  async close(run: Run): Promise<Partial<Pick<Run, 'diff' | 'worktreeRemovedAt'>>> {
    if (run.workspace === null || run.baseCommit === null) return {};
    const changes: Partial<Pick<Run, 'diff' | 'worktreeRemovedAt'>> = {};
    try {
      changes.diff = await this.worktrees.commitAndDiff(run.userId, run.workspace, run.id, run.baseCommit);
    } catch (error) {
      this.logger.error(`run ${run.id}: its changes could not be committed: ${(error as Error).message}`);
    }
    // Work that could not be committed stays in the worktree until the retention sweep, for someone to rescue.
    if (this.retentionMs === 0 && changes.diff !== undefined) {
      try {
        await this.worktrees.remove(run.userId, run.workspace, run.id);
        changes.worktreeRemovedAt = new Date().toISOString();
      } catch (error) {
        this.logger.warn(`run ${run.id}: its worktree could not be removed: ${(error as Error).message}`);
      }
    }
    return changes;
  }

  /** Removes the worktree of a run that finished long enough ago; its branch and its stored diff stay. */
  async expire(run: Pick<Run, 'id' | 'userId' | 'workspace'>): Promise<void> {
    await this.worktrees.remove(run.userId, run.workspace!, run.id);
    await this.database.dataSource.getRepository(Run).update({ id: run.id }, { worktreeRemovedAt: new Date().toISOString() });
  }
}
