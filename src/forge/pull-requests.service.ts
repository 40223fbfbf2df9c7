import { Injectable, Logger, type OnApplicationBootstrap, type OnModuleInit } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { join } from 'node:path';
import { DispatcherService } from '../dispatch/dispatcher.service.js';
import { isFinal, Run, type RunPullRequest, type RunPullRequestState } from '../runs/entities/run.entity.js';
import { RUN_COLUMNS, runFromRow, type RunRow } from '../runs/run-rows.js';
import { toRunView } from '../runs/run.view.js';
import { RunsService } from '../runs/runs.service.js';
import { Clock } from '../common/clock.js';
import { ProblemError } from '../common/problem.js';
import type { AppConfig } from '../config/configuration.js';
import { DatabaseService } from '../database/database.service.js';
import { WebhooksService } from '../webhooks/webhooks.service.js';
import type { Workspace } from '../workspace/entities/workspace.entity.js';
import { git, GitError } from '../workspace/git.js';
import { KeyedMutex } from '../workspace/keyed-mutex.js';
import { runBranch } from '../workspace/worktrees.service.js';
import { WorkspacesService } from '../workspace/workspaces.service.js';
import { WorkspaceCredentialsService, type PushCredential } from './credentials.service.js';
import type { OpenPullRequestDto } from './dto/forge.dto.js';
import { openOnForge } from './forge-api.js';
import type { PushResultView } from './forge.view.js';
import { credentialForms, pushCommit, scrubbed } from './git-push.js';
import { defaultBody, defaultTitle } from './pull-request-text.js';

const SET_PULL_REQUEST_SQL = 'UPDATE runs SET pull_request = ? WHERE id = ?';
/**
 * Succeeded runs with changes whose requested pull request was neither opened nor refused: their
 * node stopped between the run's end and the forge's answer. The column is JSON text on both databases.
 */
const UNOPENED_SQL =
  `SELECT ${RUN_COLUMNS} FROM runs WHERE status = 'succeeded' AND finished_at >= ? AND pull_request LIKE '%"requested"%' ` +
  `AND pull_request NOT LIKE '%"opened"%' AND pull_request NOT LIKE '%"error"%' AND diff <> ''`;
/** How far back a pull request left unopened is still opened at boot. */
const RESUME_WINDOW_MS = 24 * 3600_000;

interface Pushed extends PushResultView {
  run: Run;
  workspace: Workspace;
  credential: PushCredential | null;
}

/**
 * Finishes a run's loop: pushes its branch `autocode/<run id>` to the repository its workspace was
 * cloned from, and opens a pull request (GitHub) or merge request (GitLab) for it, on request or,
 * when the submit asked for one, as soon as the run succeeds with changes.
 */
@Injectable()
export class PullRequestsService implements OnModuleInit, OnApplicationBootstrap {
  private readonly logger = new Logger(PullRequestsService.name);
  /** One push or pull request per run at a time in this process. */
  private readonly perRun = new KeyedMutex();
  private readonly allowPrivate: boolean;
  private readonly publicUrl: string;
  private readonly node: string;

  constructor(
    config: ConfigService<AppConfig, true>,
    private readonly runs: RunsService,
    private readonly dispatcher: DispatcherService,
    private readonly workspaces: WorkspacesService,
    private readonly credentials: WorkspaceCredentialsService,
    private readonly database: DatabaseService,
    private readonly webhooks: WebhooksService,
    private readonly clock: Clock,
  ) {
    this.allowPrivate = config.get('forge.allowPrivateNetworks', { infer: true });
    this.publicUrl = config.get('forge.publicUrl', { infer: true });
    this.node = config.get('node', { infer: true });
  }

  onModuleInit(): void {
    this.dispatcher.onRunFinished((run) => {
      if (run.pullRequest?.requested && !run.pullRequest.opened && run.status === 'succeeded' && run.diff !== '') void this.openRequested(run);
    });
  }

  /**
   * On a node that runs agents: opens, in the background, the pull requests asked for of runs that
   * finished here within the last day and whose node stopped before opening them.
   */
  onApplicationBootstrap(): void {
    if (!this.dispatcher.loop.runsAgents) return;
    void this.resumeUnopened().catch((error: Error) => this.logger.error(`pull requests left unopened could not be resumed: ${error.message}`));
  }

  private async resumeUnopened(): Promise<void> {
    const since = new Date(this.clock.now().getTime() - RESUME_WINDOW_MS).toISOString();
    const manager = this.database.dataSource.manager;
    // On SQLite one node owns the database; on PostgreSQL each node resumes its own runs.
    const { rows } = this.database.isPostgres
      ? await this.database.query<RunRow>(manager, `${UNOPENED_SQL} AND node = ?`, [since, this.node])
      : await this.database.query<RunRow>(manager, UNOPENED_SQL, [since]);
    for (const row of rows) {
      this.logger.warn({ runId: row.id }, 'opening the pull request its run asked for, left unopened by a stop');
      await this.openRequested(runFromRow(row));
    }
  }

  /** Pushes the run's branch to the workspace's remote. */
  async push(userId: string, runId: string): Promise<PushResultView> {
    const { branch, commit, remote } = await this.perRun.runExclusive(runId, () => this.pushBranch(userId, runId));
    return { branch, commit, remote };
  }

  /** Pushes the run's branch if needed and opens its pull request; the run records it. */
  async open(userId: string, runId: string, request: OpenPullRequestDto): Promise<RunPullRequest> {
    return this.perRun.runExclusive(runId, async () => {
      const run = await this.runs.find({ userId }, runId);
      if (run.pullRequest?.opened) {
        throw new ProblemError('pull_request_exists', `run ${runId} already has a pull request: ${run.pullRequest.opened.url}`, { extensions: { pullRequest: run.pullRequest.opened } });
      }
      if (!isFinal(run.status)) throw active(run);
      if (run.workspace !== null) {
        // Refused before anything is pushed: without a forge and a token no pull request can follow.
        const workspace = await this.workspaces.find(userId, run.workspace);
        if (!workspace.forge) {
          throw new ProblemError('forge_not_configured', `workspace "${workspace.name}" names no forge; create it with forge {kind, repository} to open pull requests`);
        }
        if (!(await this.credentials.read(workspace))) {
          throw new ProblemError('forge_not_configured', `workspace "${workspace.name}" has no credential; store a token with PUT /api/v1/workspaces/${workspace.name}/credentials`);
        }
      }
      const pushed = await this.pushBranch(userId, runId);
      const forge = pushed.workspace.forge;
      if (!forge || !pushed.credential) throw new ProblemError('forge_not_configured', `workspace "${pushed.workspace.name}" changed meanwhile: it has no forge or no credential now`);
      const requested = run.pullRequest?.requested ?? {};
      const base = request.base ?? requested.base ?? (await this.checkedOutBranch(pushed.workspace));
      const draft = request.draft ?? requested.draft ?? false;
      const opened = await openOnForge(
        forge,
        pushed.credential.token,
        {
          title: request.title ?? defaultTitle(run.prompt),
          body: request.body ?? defaultBody(run, `${this.publicUrl}/api/v1/runs/${run.id}`),
          head: pushed.branch,
          base,
          draft,
        },
        this.allowPrivate,
      );
      const pullRequest: RunPullRequest = { ...opened, branch: pushed.branch, base, draft, openedAt: this.clock.now().toISOString() };
      await this.record(run, { ...(run.pullRequest?.requested ? { requested: run.pullRequest.requested } : {}), opened: pullRequest });
      this.logger.log({ runId, userId, pullRequest: pullRequest.url }, 'pull request opened');
      return pullRequest;
    });
  }

  /** Stores the run's pull request state and, when one was opened, the webhook event announcing it, in one transaction. */
  private async record(run: Run, state: RunPullRequestState): Promise<void> {
    const at = this.clock.now().toISOString();
    const deliveries = await this.database.transaction(async (manager) => {
      await this.database.query(manager, SET_PULL_REQUEST_SQL, [JSON.stringify(state), run.id]);
      return state.opened ? this.webhooks.enqueueEvent(manager, 'run.pull_request_opened', toRunView({ ...run, pullRequest: state }), at) : 0;
    });
    if (deliveries > 0) this.webhooks.wake();
  }

  /** The pull request a submit asked for, once its run succeeded with changes; why it could not be opened is recorded on the run. */
  private async openRequested(run: Run): Promise<void> {
    try {
      await this.open(run.userId, run.id, {});
    } catch (error) {
      const problem = error instanceof ProblemError ? error : null;
      if (problem?.code === 'pull_request_exists') return;
      if (!problem) this.logger.error(`run ${run.id}: its pull request could not be opened: ${(error as Error).message}`);
      else this.logger.warn({ runId: run.id, code: problem.code }, `its pull request could not be opened: ${problem.detail}`);
      const current = await this.runs.find({ userId: run.userId }, run.id).catch(() => null);
      if (!current || current.pullRequest?.opened) return;
      await this.record(current, {
        ...current.pullRequest,
        error: { code: problem?.code ?? 'internal_error', message: problem?.detail ?? 'the pull request could not be opened' },
      }).catch((recordError: Error) => this.logger.error(`run ${run.id}: ${recordError.message}`));
    }
  }

  private async pushBranch(userId: string, runId: string): Promise<Pushed> {
    const run = await this.runs.find({ userId }, runId);
    if (!isFinal(run.status)) throw active(run);
    if (run.workspace === null || run.baseCommit === null) {
      throw new ProblemError('nothing_to_push', `run ${runId} did not work in a named workspace, so it has no branch to push`);
    }
    const workspace = await this.workspaces.find(userId, run.workspace);
    const branch = runBranch(run.id);
    const commit = await this.workspaces.withLock(userId, workspace.name, async () => {
      const cwd = await this.workspaces.directory(userId, workspace.name);
      const tip = await git(['rev-parse', '--verify', '--quiet', `refs/heads/${branch}^{commit}`], { cwd, okExitCodes: [1] });
      return tip.exitCode === 0 ? tip.stdout.trim() : null;
    });
    if (commit === null) throw new ProblemError('nothing_to_push', `branch ${branch} is no longer in workspace "${workspace.name}"`);
    if (commit === run.baseCommit) throw new ProblemError('nothing_to_push', `run ${runId} changed nothing: its branch ${branch} is still at its base commit`);
    const remote = await this.workspaces.remoteOf(workspace).catch((error: unknown) => {
      // Checked as a clone would be; for a push, a repository that is no longer there is git's refusal.
      if (error instanceof ProblemError && error.code === 'clone_failed') throw new ProblemError('push_failed', error.detail, error.options);
      throw error;
    });
    if (!remote) throw new ProblemError('no_remote', `workspace "${workspace.name}" was created empty, so it has no repository to push to; create it with a repoUrl`);
    const credential = await this.credentials.read(workspace);
    const gitDir = join(await this.workspaces.directory(userId, workspace.name), '.git');
    try {
      await pushCommit({ gitDir, commit, branch, remoteUrl: remote.gitUrl, scheme: remote.scheme, credential });
    } catch (error) {
      if (!(error instanceof GitError)) throw error;
      throw new ProblemError('push_failed', scrubbed(error, [...credentialForms(credential), ...remote.secrets]), { extensions: { repoUrl: remote.shownUrl } });
    }
    this.logger.log({ runId, userId, branch }, 'run branch pushed');
    return { run, workspace, credential, branch, commit, remote: remote.shownUrl };
  }

  /** The branch the workspace has checked out: a pull request's base when neither the request nor the submit named one. */
  private async checkedOutBranch(workspace: Workspace): Promise<string> {
    const branch = await this.workspaces.get(workspace.userId, workspace.name);
    if (branch.branch) return branch.branch;
    throw new ProblemError('validation_failed', `workspace "${workspace.name}" has no branch checked out (a tag or commit was); name the pull request's base`);
  }
}

function active(run: Run): ProblemError {
  return new ProblemError('run_active', `run ${run.id} is ${run.status}; its branch can be pushed once it has finished`, { extensions: { runStatus: run.status } });
}
