import { Injectable, Logger } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { InjectRepository } from '@nestjs/typeorm';
import { randomUUID } from 'node:crypto';
import { mkdir, realpath, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Brackets, In, type EntityManager, type Repository } from 'typeorm';
import { Run } from '../runs/entities/run.entity.js';
import { Clock } from '../common/clock.js';
import { decodeCursor, encodeCursor, type Page } from '../common/pagination.js';
import { isInside } from '../common/paths.js';
import { ProblemError } from '../common/problem.js';
import type { AppConfig } from '../config/configuration.js';
import { DatabaseService } from '../database/database.service.js';
import { IdempotencyService, type IdempotentRequest } from '../idempotency/idempotency.service.js';
import { workspaceForge } from '../forge/forge-settings.js';
import type { WorkspaceForgeDto } from '../forge/dto/forge.dto.js';
import { Workspace } from './entities/workspace.entity.js';
import { CLONE_TIMEOUT_MS, git, GitError } from './git.js';
import { KeyedMutex } from './keyed-mutex.js';
import { PathOutsideRootError, WorkspaceService } from './workspace.service.js';
import type { WorkspaceDetail, WorkspaceView } from './workspace.view.js';

/** A workspace name is one directory name: never `.`, `..`, hidden, or with a separator. */
export const WORKSPACE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
/** A ref to check out after a clone: no leading `-` (never an option), no `..`, no revision syntax. */
export const GIT_REF = /^(?!-)(?!.*\.\.)[A-Za-z0-9._/-]{1,200}$/;

export interface CreateWorkspaceRequest {
  name: string;
  repoUrl?: string;
  ref?: string;
  forge?: WorkspaceForgeDto;
}

export interface RepoSource {
  /** What git is given. */
  gitUrl: string;
  /** What is stored and shown: the URL without credentials. */
  shownUrl: string;
  scheme: string;
  /** Credentials to blank out of git's messages. */
  secrets: string[];
}

/**
 * Named workspaces: per-user git repositories, created empty or cloned. Every
 * git operation on one workspace (create, spec commits, worktrees of its runs,
 * delete) runs under that workspace's lock, so none trips over git's
 * `index.lock` or another's half-written state.
 */
@Injectable()
export class WorkspacesService {
  private readonly logger = new Logger(WorkspacesService.name);
  private readonly locks = new KeyedMutex();
  private readonly repoSchemes: string[];
  private readonly fileRoots: string[];
  private readonly dataDir: string;

  constructor(
    config: ConfigService<AppConfig, true>,
    private readonly database: DatabaseService,
    @InjectRepository(Workspace) private readonly workspaces: Repository<Workspace>,
    private readonly paths: WorkspaceService,
    private readonly clock: Clock,
    private readonly idempotency: IdempotencyService,
  ) {
    this.repoSchemes = config.get('workspaces.repoSchemes', { infer: true });
    this.fileRoots = config.get('workspaces.fileRoots', { infer: true });
    this.dataDir = config.get('dataDir', { infer: true });
  }

  /** Runs `work` while no other git operation of this process touches the workspace. */
  withLock<T>(userId: string, name: string, work: () => Promise<T>): Promise<T> {
    assertWorkspaceName(name);
    return this.locks.runExclusive(join(this.paths.workspacesRoot(userId), name), work);
  }

  /**
   * The workspace's directory, checked to be one name inside the user's
   * workspaces root, symlinks included.
   */
  async directory(userId: string, name: string): Promise<string> {
    assertWorkspaceName(name);
    const root = this.paths.workspacesRoot(userId);
    await mkdir(root, { recursive: true, mode: 0o700 });
    try {
      return await this.paths.resolveInside(root, name);
    } catch (error) {
      if (error instanceof PathOutsideRootError) {
        this.logger.warn(`workspace directory of "${name}" leaves its user's root; refusing it`);
        throw notFound(name);
      }
      throw error;
    }
  }

  async find(userId: string, name: string): Promise<Workspace> {
    assertWorkspaceName(name);
    const workspace = await this.workspaces.findOneBy({ userId, name });
    if (!workspace) throw notFound(name);
    return workspace;
  }

  /**
   * Inside a submit's transaction: the workspace, locked until the run is
   * stored, so a concurrent delete either sees the run or finishes first.
   */
  async findForRun(manager: EntityManager, userId: string, name: string): Promise<Workspace> {
    assertWorkspaceName(name);
    const query = manager.getRepository(Workspace).createQueryBuilder('workspace').where('workspace.userId = :userId AND workspace.name = :name', { userId, name });
    // SQLite has a single writer: the transaction already excludes every other write.
    if (this.database.isPostgres) query.setLock('pessimistic_write');
    const workspace = await query.getOne();
    if (!workspace) throw notFound(name);
    return workspace;
  }

  /**
   * Creates a workspace. With an idempotency key, a retry of a create that
   * succeeded gets the first answer again (`replayed`), cloning nothing.
   */
  async create(userId: string, request: CreateWorkspaceRequest, idempotent: IdempotentRequest | null = null): Promise<{ workspace: WorkspaceDetail; replayed: boolean }> {
    assertWorkspaceName(request.name);
    if (request.ref !== undefined && request.repoUrl === undefined) {
      throw new ProblemError('validation_failed', 'ref needs a repoUrl: an empty workspace has only its initial commit');
    }
    if (request.ref !== undefined && !GIT_REF.test(request.ref)) {
      throw new ProblemError('validation_failed', 'ref must be a branch, tag or commit name');
    }
    if (request.forge !== undefined && request.repoUrl === undefined) {
      throw new ProblemError('validation_failed', 'forge needs a repoUrl: pull requests are opened for branches pushed to the repository the workspace was cloned from');
    }
    const forge = request.forge === undefined ? null : workspaceForge(request.forge);
    const source = request.repoUrl === undefined ? null : await this.checkRepoUrl(request.repoUrl);
    return this.withLock(userId, request.name, async () => {
      // Checked under the lock, so a duplicate that waited for the first create finds its answer.
      const earlier = idempotent && (await this.idempotency.find(idempotent));
      if (earlier) return { workspace: earlier.body as WorkspaceDetail, replayed: true };
      if (await this.workspaces.existsBy({ userId, name: request.name })) throw exists(request.name);
      const root = this.paths.workspacesRoot(userId);
      await mkdir(root, { recursive: true, mode: 0o700 });
      // Built beside its final place under a name no workspace can have, then renamed: a failed or
      // interrupted clone never shows up as a workspace.
      const staging = join(root, `.staging-${randomUUID()}`);
      try {
        if (source) await this.cloneInto(staging, source, request.ref);
        else await initEmpty(staging);
        const workspace = Object.assign(new Workspace(), {
          id: randomUUID(),
          userId,
          name: request.name,
          repoUrl: source?.shownUrl ?? null,
          ref: request.ref ?? null,
          createdAt: this.clock.now().toISOString(),
          forge,
        });
        const detail = await this.describe(workspace, staging);
        // The key is claimed with the row: a duplicate on another node waits for this commit, then replays it.
        const replay = await this.database.transaction(async (manager) => {
          const answer = idempotent && (await this.idempotency.claim(manager, idempotent));
          if (answer) return answer;
          try {
            await manager.insert(Workspace, workspace);
          } catch (error) {
            if (isUniqueViolation(error)) throw exists(request.name);
            throw error;
          }
          if (idempotent) await this.idempotency.record(manager, idempotent, { status: 201, body: detail });
          return null;
        });
        if (replay) return { workspace: replay.body as WorkspaceDetail, replayed: true };
        try {
          const target = await this.directory(userId, request.name);
          // No row names this directory (ours was just inserted): it is a leftover of an interrupted delete.
          await rm(target, { recursive: true, force: true });
          await rename(staging, target);
        } catch (error) {
          await this.workspaces.delete({ id: workspace.id });
          if (idempotent) await this.idempotency.forget(idempotent);
          throw error;
        }
        return { workspace: detail, replayed: false };
      } finally {
        await rm(staging, { recursive: true, force: true });
      }
    });
  }

  async list(userId: string, options: { limit?: number; cursor?: string }): Promise<Page<WorkspaceView>> {
    const limit = options.limit ?? 20;
    const query = this.workspaces
      .createQueryBuilder('workspace')
      .where('workspace.userId = :userId', { userId })
      .orderBy('workspace.createdAt', 'DESC')
      .addOrderBy('workspace.id', 'DESC')
      .take(limit + 1);
    if (options.cursor) {
      const cursor = decodeCursor(options.cursor);
      query.andWhere(
        new Brackets((where) =>
          where
            .where('workspace.createdAt < :cursorCreatedAt', { cursorCreatedAt: cursor.createdAt })
            .orWhere('workspace.createdAt = :cursorCreatedAt AND workspace.id < :cursorId', { cursorId: cursor.id }),
        ),
      );
    }
    const rows = await query.getMany();
    const items = rows.slice(0, limit);
    const last = items.at(-1);
    return {
      items: items.map(toWorkspaceView),
      nextCursor: rows.length > limit && last ? encodeCursor({ createdAt: last.createdAt, id: last.id }) : null,
    };
  }

  async get(userId: string, name: string): Promise<WorkspaceDetail> {
    return this.describe(await this.find(userId, name));
  }

  /** Deletes the workspace and its directory; refused while a run of it is queued or running. Its runs keep their diffs. */
  async remove(userId: string, name: string): Promise<void> {
    await this.withLock(userId, name, async () => {
      await this.database.transaction(async (manager) => {
        const workspace = await this.findForRun(manager, userId, name);
        const active = await manager.countBy(Run, { userId, workspace: name, status: In(['queued', 'running']) });
        if (active > 0) {
          throw new ProblemError('workspace_busy', `workspace "${name}" has ${active} queued or running run(s); cancel them or wait`, {
            extensions: { activeRuns: active },
          });
        }
        await manager.delete(Workspace, { id: workspace.id });
      });
      // The worktrees of its finished runs go with the retention sweep, like any other.
      await rm(await this.directory(userId, name), { recursive: true, force: true });
    });
  }

  /**
   * Where a push of one of the workspace's branches goes: the repository it was cloned from,
   * checked again as a clone would be (the server's allowed schemes and file roots may have
   * changed since); null for an empty workspace.
   */
  async remoteOf(workspace: Workspace): Promise<RepoSource | null> {
    return workspace.repoUrl === null ? null : this.checkRepoUrl(workspace.repoUrl);
  }

  /** The workspace with its HEAD, read from its directory (or from where it is being built). */
  private async describe(workspace: Workspace, cwd?: string): Promise<WorkspaceDetail> {
    cwd ??= await this.directory(workspace.userId, workspace.name);
    const head = await git(['rev-parse', '--verify', '--quiet', 'HEAD^{commit}'], { cwd, okExitCodes: [1] }).catch(() => null);
    const branch = await git(['symbolic-ref', '--quiet', '--short', 'HEAD'], { cwd, okExitCodes: [1] }).catch(() => null);
    return {
      ...toWorkspaceView(workspace),
      head: head?.stdout.trim() || null,
      branch: branch?.stdout.trim() || null,
    };
  }

  private async cloneInto(target: string, source: RepoSource, ref: string | undefined): Promise<void> {
    try {
      await git(['clone', '--quiet', '--no-recurse-submodules', '--', source.gitUrl, target], {
        timeoutMs: CLONE_TIMEOUT_MS,
        protocols: [source.scheme],
      });
      if (ref !== undefined) await git(['checkout', '--quiet', ref, '--'], { cwd: target });
    } catch (error) {
      if (!(error instanceof GitError)) throw error;
      let message = error.message;
      for (const secret of source.secrets) message = message.split(secret).join('***');
      throw new ProblemError('clone_failed', message, { extensions: { repoUrl: source.shownUrl } });
    }
    // Agents read the workspace: credentials given in the URL must not stay in `.git/config`.
    if (source.secrets.length > 0) await git(['remote', 'set-url', 'origin', source.shownUrl], { cwd: target });
    // A run branches from HEAD, so a clone of an empty repository gets the initial commit an empty workspace has.
    const head = await git(['rev-parse', '--verify', '--quiet', 'HEAD^{commit}'], { cwd: target, okExitCodes: [1] });
    if (head.exitCode !== 0) await git(['commit', '--quiet', '--allow-empty', '--no-verify', '-m', 'Initial commit'], { cwd: target });
  }

  /**
   * Accepts only `scheme://` URLs of an allowed scheme: no scp-style address,
   * no local path, no `transport::address` remote helper (`ext::` runs a
   * command), nothing git could read as an option.
   */
  private async checkRepoUrl(raw: string): Promise<RepoSource> {
    if (raw.startsWith('-')) throw notAllowed('a repository URL cannot start with "-"');
    if (/[\s\x00-\x1f\x7f]/.test(raw)) throw notAllowed('a repository URL cannot contain spaces or control characters');
    const scheme = raw.match(/^([A-Za-z][A-Za-z0-9+.-]*):\/\//)?.[1]?.toLowerCase();
    if (!scheme) {
      throw notAllowed(`repoUrl must be a URL (${this.repoSchemes.map((s) => `${s}://`).join(', ')}); local paths, scp-style addresses and "transport::" forms are refused`);
    }
    if (!this.repoSchemes.includes(scheme)) {
      throw notAllowed(`the "${scheme}" scheme is not allowed on this server; allowed: ${this.repoSchemes.join(', ')}`);
    }
    let url: URL;
    try {
      url = new URL(raw);
    } catch {
      throw notAllowed('repoUrl is not a valid URL');
    }
    if (scheme === 'file') return this.checkFileUrl(url);
    if (!url.hostname) throw notAllowed('repoUrl has no host');
    const secrets: string[] = [];
    if (url.password) secrets.push(url.password, decodeURIComponent(url.password));
    const httpLike = scheme === 'https' || scheme === 'http';
    // `https://TOKEN@host/…` carries the token as the user name.
    if (httpLike && url.username && !url.password) secrets.push(url.username, decodeURIComponent(url.username));
    const shown = new URL(url.href);
    shown.password = '';
    if (httpLike) shown.username = '';
    return { gitUrl: url.href, shownUrl: shown.href, scheme, secrets: secrets.filter((s) => s.length > 0) };
  }

  /**
   * A file URL must resolve, symlinks followed, inside one of
   * WORKSPACE_FILE_ROOTS and outside the server's data directory (so no user
   * clones another's workspace), and so must the repository its `.git` names.
   * Whether a path exists is only told for paths inside the roots.
   */
  private async checkFileUrl(url: URL): Promise<RepoSource> {
    if (url.host !== '' && url.host !== 'localhost') throw notAllowed('a file URL must name a local path: file:///path/to/repo');
    if (url.search || url.hash) throw notAllowed('a file URL cannot have a query or fragment');
    let path: string;
    try {
      path = fileURLToPath(url);
    } catch {
      throw notAllowed('repoUrl is not a valid file URL');
    }
    const dataDir = await realpath(this.dataDir);
    const allowed = (candidate: string): boolean => this.fileRoots.some((root) => isInside(root, candidate)) && !isInside(dataDir, candidate);
    const refused = notAllowed('file URLs must point inside a directory this server allows (WORKSPACE_FILE_ROOTS), outside its data directory');
    if (!allowed(await realpathOfExisting(path))) throw refused;
    const real = await realpath(path).catch(() => null);
    if (!real || !(await stat(real)).isDirectory()) {
      throw new ProblemError('clone_failed', `there is no repository at ${path}`, { extensions: { repoUrl: url.href } });
    }
    // A `.git` file can point the clone somewhere else: check where the repository really is, too.
    const gitDir = await git(['rev-parse', '--absolute-git-dir'], { cwd: real, okExitCodes: [128] }).catch(() => null);
    if (gitDir?.exitCode === 0 && !allowed(await realpathOfExisting(gitDir.stdout.trim()))) throw refused;
    return { gitUrl: pathToFileURL(real).href, shownUrl: url.href, scheme: 'file', secrets: [] };
  }
}

/** The real path of `path`'s longest existing prefix, with the rest appended: where it would be, symlinks followed. */
async function realpathOfExisting(path: string): Promise<string> {
  const real = await realpath(path).catch(() => null);
  if (real !== null) return real;
  const parent = dirname(path);
  return parent === path ? path : join(await realpathOfExisting(parent), basename(path));
}

async function initEmpty(target: string): Promise<void> {
  await mkdir(dirname(target), { recursive: true, mode: 0o700 });
  await git(['init', '--quiet', '--initial-branch=main', '--', target]);
  await git(['commit', '--quiet', '--allow-empty', '--no-verify', '-m', 'Initial commit'], { cwd: target });
}

export function assertWorkspaceName(name: string): void {
  if (!WORKSPACE_NAME.test(name)) {
    throw new ProblemError('validation_failed', 'a workspace name is 1-64 letters, digits, dots, dashes or underscores, starting with a letter or digit');
  }
}

function toWorkspaceView(workspace: Workspace): WorkspaceView {
  return { name: workspace.name, repoUrl: workspace.repoUrl, ref: workspace.ref, createdAt: workspace.createdAt, forge: workspace.forge ?? null };
}

function notFound(name: string): ProblemError {
  return new ProblemError('workspace_not_found', `there is no workspace "${name}"`);
}

function exists(name: string): ProblemError {
  return new ProblemError('workspace_exists', `a workspace "${name}" already exists`);
}

function notAllowed(detail: string): ProblemError {
  return new ProblemError('repo_url_not_allowed', detail);
}

function isUniqueViolation(error: unknown): boolean {
  const code = (error as { driverError?: { code?: unknown } }).driverError?.code;
  // PostgreSQL unique_violation; better-sqlite3's extended result code.
  return code === '23505' || code === 'SQLITE_CONSTRAINT_UNIQUE';
}
