import { Injectable } from '@nestjs/common';
import { constants } from 'node:fs';
import { mkdir, open, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ProblemError } from '../common/problem.js';
import { git } from './git.js';
import type { SpecDetail, SpecView } from './spec.view.js';
import { PathOutsideRootError, WorkspaceService } from './workspace.service.js';
import { WorkspacesService } from './workspaces.service.js';

/** A spec folder name, as in the seed's layout (`001-add-login`); never `.`, `..` or a path. */
export const SPEC_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
/** Where specs live in a workspace, as in the seed. */
export const SPECS_DIR = '.auto-claude/specs';
export const MAX_SPEC_BYTES = 1024 * 1024;

/**
 * Specs in a workspace: `.auto-claude/specs/NNN-slug/spec.md`, numbered in
 * order and committed. Specs come from clients and from cloned repositories,
 * so reading one never follows a symlink and never leaves the workspace.
 */
@Injectable()
export class SpecsService {
  constructor(
    private readonly paths: WorkspaceService,
    private readonly workspaces: WorkspacesService,
  ) {}

  async create(userId: string, workspace: string, request: { title: string; body: string }): Promise<SpecDetail> {
    const title = request.title.trim();
    if (!title || /[\r\n]/.test(title)) throw new ProblemError('validation_failed', 'title must be one non-empty line');
    return this.workspaces.withLock(userId, workspace, async () => {
      // Under the lock: a delete may have finished while this waited for it.
      await this.workspaces.find(userId, workspace);
      const repo = await this.workspaces.directory(userId, workspace);
      const specsDir = await this.inside(repo, SPECS_DIR, () => new ProblemError('validation_failed', `${SPECS_DIR} leaves the workspace`));
      await mkdir(specsDir, { recursive: true });
      // Checked again now that it exists: a component may have been a symlink.
      await this.inside(repo, SPECS_DIR, () => new ProblemError('validation_failed', `${SPECS_DIR} leaves the workspace`));
      const numbers = (await readdir(specsDir)).map((name) => name.match(/^(\d+)-/)?.[1]).filter((n): n is string => n !== undefined).map(Number);
      const id = `${String(Math.max(0, ...numbers) + 1).padStart(3, '0')}-${slugify(title)}`;
      const dir = join(specsDir, id);
      const path = `${SPECS_DIR}/${id}/spec.md`;
      const content = `# ${title}\n\n${request.body}`;
      await mkdir(dir);
      try {
        await writeFile(join(dir, 'spec.md'), content, { flag: 'wx', mode: 0o644 });
        // Forced: repositories made with the seed often ignore `.auto-claude/`.
        await git(['add', '--force', '--', path], { cwd: repo });
        await git(['commit', '--quiet', '--no-verify', '-m', `Add spec ${id}`, '--', path], { cwd: repo });
      } catch (error) {
        await git(['reset', '--quiet', '--', path], { cwd: repo }).catch(() => undefined);
        await rm(dir, { recursive: true, force: true });
        throw error;
      }
      return { id, title, path, body: request.body, content };
    });
  }

  /** The workspace's specs in order of their number. */
  async list(userId: string, workspace: string): Promise<SpecView[]> {
    await this.workspaces.find(userId, workspace);
    const repo = await this.workspaces.directory(userId, workspace);
    let specsDir: string;
    try {
      specsDir = await this.paths.resolveInside(repo, SPECS_DIR);
    } catch (error) {
      if (error instanceof PathOutsideRootError) return [];
      throw error;
    }
    const entries = await readdir(specsDir, { withFileTypes: true }).catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT' || error.code === 'ENOTDIR') return [];
      throw error;
    });
    const specs: SpecView[] = [];
    // Dirent types come from lstat: a symlinked folder is not a directory here, so it is never listed.
    for (const entry of entries) {
      if (!entry.isDirectory() || !SPEC_ID.test(entry.name)) continue;
      const spec = await this.readFrom(repo, entry.name).catch((error: unknown) => {
        if (error instanceof ProblemError) return null;
        throw error;
      });
      if (spec) specs.push({ id: spec.id, title: spec.title, path: spec.path });
    }
    return specs.sort((a, b) => a.id.localeCompare(b.id, 'en', { numeric: true }));
  }

  async read(userId: string, workspace: string, specId: string): Promise<SpecDetail> {
    if (!SPEC_ID.test(specId)) throw new ProblemError('validation_failed', 'a spec id is a spec folder name, such as 001-add-login');
    await this.workspaces.find(userId, workspace);
    return this.readFrom(await this.workspaces.directory(userId, workspace), specId);
  }

  private async readFrom(repo: string, specId: string): Promise<SpecDetail> {
    const path = `${SPECS_DIR}/${specId}/spec.md`;
    const notFound = () => new ProblemError('spec_not_found', `there is no spec "${specId}" in this workspace`);
    const file = await this.inside(repo, path, notFound);
    // O_NOFOLLOW: a spec.md that is a symlink is refused, not followed; O_NONBLOCK: a FIFO cannot hang the read.
    const handle = await open(file, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK).catch(() => {
      throw notFound();
    });
    let content: string;
    try {
      const stats = await handle.stat();
      if (!stats.isFile()) throw notFound();
      if (stats.size > MAX_SPEC_BYTES) throw new ProblemError('validation_failed', `spec "${specId}" is larger than ${MAX_SPEC_BYTES} bytes`);
      content = await handle.readFile('utf8');
    } finally {
      await handle.close();
    }
    return { id: specId, path, ...parseSpec(specId, content), content };
  }

  private async inside(repo: string, relative: string, refusal: () => ProblemError): Promise<string> {
    try {
      return await this.paths.resolveInside(repo, relative);
    } catch (error) {
      if (error instanceof PathOutsideRootError) throw refusal();
      throw error;
    }
  }
}

/** `Add login page!` → `add-login-page`; accents dropped, at most 60 characters, never empty. */
export function slugify(title: string): string {
  const slug = title
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .slice(0, 60)
    .replace(/^-+|-+$/g, '');
  return slug || 'spec';
}

/** The title is the first line's `# ` heading (the spec id when there is none); the body is what follows it. */
function parseSpec(specId: string, content: string): { title: string; body: string } {
  const heading = content.match(/^# ([^\r\n]+)\r?\n(?:\r?\n)?/);
  if (!heading) return { title: specId, body: content };
  return { title: heading[1]!.trim(), body: content.slice(heading[0].length) };
}
