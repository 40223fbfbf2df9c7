import { Injectable, Logger } from '@nestjs/common';
import { lstat, mkdir, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { git, GitError } from './git.js';
import { WorkspaceService } from './workspace.service.js';
import { WorkspacesService } from './workspaces.service.js';

/** A diff larger than this is stored cut off, with a note saying so. */
export const MAX_DIFF_BYTES = 8 * 1024 * 1024;

export function runBranch(runId: string): string {
  return `autocode/${runId}`;
}

/**
 * Each run on a named workspace works in a git worktree of its own, on
 * branch `autocode/<run id>`, in the run's directory: concurrent runs on one
 * workspace never see each other's files. When the run ends, what it changed
 * is committed on its branch and its diff kept; the worktree is removed later,
 * the branch stays.
 */
@Injectable()
export class WorktreesService {
  private readonly logger = new Logger(WorktreesService.name);

  constructor(
    private readonly paths: WorkspaceService,
    private readonly workspaces: WorkspacesService,
  ) {}

  /** The commit a run started now branches from: the workspace's HEAD. */
  async head(userId: string, workspace: string): Promise<string> {
    return this.workspaces.withLock(userId, workspace, async () => {
      const cwd = await this.workspaces.directory(userId, workspace);
      return (await git(['rev-parse', '--verify', 'HEAD^{commit}'], { cwd })).stdout.trim();
    });
  }

  /** The commit a follow-up of `runId` branches from: the tip of that run's branch, if it is still there. */
  async runHead(userId: string, workspace: string, runId: string): Promise<string | null> {
    return this.workspaces.withLock(userId, workspace, async () => {
      const cwd = await this.workspaces.directory(userId, workspace);
      const found = await git(['rev-parse', '--quiet', '--verify', `refs/heads/${runBranch(runId)}^{commit}`], { cwd, okExitCodes: [1] });
      return found.exitCode === 0 ? found.stdout.trim() : null;
    });
  }

  /** The `.git` directory of a workspace's repository, which every worktree of it refers to. */
  async repositoryGitDir(userId: string, workspace: string): Promise<string> {
    return join(await this.workspaces.directory(userId, workspace), '.git');
  }

  /** Creates the run's worktree on a new branch at `base`; returns its path (the agent's working directory). */
  async add(userId: string, workspace: string, runId: string, base: string): Promise<string> {
    const path = this.paths.runDir(userId, runId);
    await mkdir(dirname(path), { recursive: true, mode: 0o700 });
    await this.workspaces.withLock(userId, workspace, async () => {
      const cwd = await this.workspaces.directory(userId, workspace);
      await git(['worktree', 'add', '--quiet', '-b', runBranch(runId), '--', path, base], { cwd });
    });
    return path;
  }

  /**
   * Commits whatever the run left in its worktree (nothing when nothing
   * changed) and returns the unified diff of its branch against `base`.
   */
  async commitAndDiff(userId: string, workspace: string, runId: string, base: string): Promise<string> {
    const cwd = this.paths.runDir(userId, runId);
    return this.workspaces.withLock(userId, workspace, async () => {
      const repo = await this.workspaces.directory(userId, workspace);
      // The worktree's own `.git` file is the agent's to change: name the repository explicitly, so the
      // commit and the diff can only be of this run's worktree in this workspace.
      const gitDir = join(repo, '.git', 'worktrees', runId);
      if (!(await lstat(gitDir).then((s) => s.isDirectory(), () => false))) {
        throw new GitError(`the worktree of run ${runId} is not registered in workspace "${workspace}"`, null);
      }
      const inWorktree = (args: string[]): string[] => ['--git-dir', gitDir, '--work-tree', cwd, ...args];
      await git(inWorktree(['add', '--all']), { cwd });
      const staged = await git(inWorktree(['diff', '--cached', '--quiet', '--no-ext-diff']), { cwd, okExitCodes: [1] });
      if (staged.exitCode === 1) {
        await git(inWorktree(['commit', '--quiet', '--no-verify', '-m', `autocode run ${runId}`]), { cwd });
      }
      const diff = await git(inWorktree(['diff', '--no-color', '--no-ext-diff', '--no-textconv', base, 'HEAD', '--']), {
        cwd,
        maxOutputBytes: MAX_DIFF_BYTES,
        truncate: true,
      });
      return diff.truncated ? `${diff.stdout}\n# diff truncated at ${MAX_DIFF_BYTES} bytes; the full change is on branch ${runBranch(runId)}\n` : diff.stdout;
    });
  }

  /** Removes the run's worktree and git's record of it; the branch stays. Also cleans up after a deleted workspace. */
  async remove(userId: string, workspace: string, runId: string): Promise<void> {
    const path = this.paths.runDir(userId, runId);
    await this.workspaces.withLock(userId, workspace, async () => {
      const repo = await this.workspaces.directory(userId, workspace);
      const hasRepo = await lstat(repo).then(
        (s) => s.isDirectory(),
        () => false,
      );
      if (hasRepo) {
        try {
          await git(['worktree', 'remove', '--force', '--force', '--', path], { cwd: repo });
        } catch (error) {
          // Already gone, or it belonged to an earlier workspace of this name: the directory is removed below either way.
          if (!(error instanceof GitError)) throw error;
          this.logger.debug(`worktree of run ${runId}: ${error.message}`);
        }
      }
      await rm(path, { recursive: true, force: true });
      if (hasRepo) await git(['worktree', 'prune'], { cwd: repo });
    });
  }
}
