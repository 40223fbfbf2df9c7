import { Body, Controller, Delete, Get, Headers, HttpCode, Param, Post, Query, Res } from '@nestjs/common';
import { ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { CurrentUser, type AuthUser } from '../auth/auth.decorators.js';
import { ApiProblems, BODY_PROBLEMS } from '../common/api-problems.js';
import { ApiIdempotencyKey, IDEMPOTENCY_KEY_HEADER, IDEMPOTENT_REPLAYED_HEADER } from '../idempotency/idempotency.decorators.js';
import { IdempotencyService } from '../idempotency/idempotency.service.js';
import { CreateSpecDto, CreateWorkspaceDto, ListWorkspacesQuery, SpecParams, WorkspaceParams } from './dto/workspace.dto.js';
import type { SpecDetail, SpecPage } from './spec.view.js';
import { SpecsService } from './specs.service.js';
import type { WorkspaceDetail, WorkspacePage } from './workspace.view.js';
import { WorkspacesService } from './workspaces.service.js';

@ApiTags('Workspaces')
@Controller('api/v1/workspaces')
export class WorkspacesController {
  constructor(
    private readonly workspaces: WorkspacesService,
    private readonly specs: SpecsService,
    private readonly idempotency: IdempotencyService,
  ) {}

  /**
   * Create a workspace
   *
   * @remarks Creates a named git workspace, empty (one initial commit) or cloned from `repoUrl`, with `ref` checked out. With `Idempotency-Key`, a retry with the same body answers the first answer again.
   */
  @Post()
  @ApiProblems(...BODY_PROBLEMS, 'repo_url_not_allowed', 'workspace_exists', 'clone_failed', 'idempotency_key_reused')
  @ApiIdempotencyKey()
  async create(
    @CurrentUser() user: AuthUser,
    @Body() body: CreateWorkspaceDto,
    @Headers(IDEMPOTENCY_KEY_HEADER) key: string | undefined,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<WorkspaceDetail> {
    const { workspace, replayed } = await this.workspaces.create(user.id, body, this.idempotency.request(user.id, key, 'POST /api/v1/workspaces', body));
    if (replayed) void reply.header(IDEMPOTENT_REPLAYED_HEADER, 'true');
    return workspace;
  }

  /**
   * List own workspaces
   *
   * @remarks The caller's workspaces, newest first.
   */
  @Get()
  @ApiProblems('validation_failed')
  list(@CurrentUser() user: AuthUser, @Query() query: ListWorkspacesQuery): Promise<WorkspacePage> {
    return this.workspaces.list(user.id, query);
  }

  /**
   * Get a workspace
   *
   * @remarks One workspace, with its current `head` commit and `branch`.
   */
  @Get(':name')
  @ApiProblems('validation_failed', 'workspace_not_found')
  get(@CurrentUser() user: AuthUser, @Param() params: WorkspaceParams): Promise<WorkspaceDetail> {
    return this.workspaces.get(user.id, params.name);
  }

  /**
   * Delete a workspace
   *
   * @remarks Deletes a workspace and its directory; its runs keep their diffs. 409 `workspace_busy` while a run of it is queued or running.
   */
  @Delete(':name')
  @HttpCode(204)
  @ApiProblems('validation_failed', 'workspace_not_found', 'workspace_busy')
  async remove(@CurrentUser() user: AuthUser, @Param() params: WorkspaceParams): Promise<void> {
    await this.workspaces.remove(user.id, params.name);
  }

  /**
   * Add a spec
   *
   * @remarks Adds a spec as `.auto-claude/specs/NNN-slug/spec.md` (the next number, the title as its heading) and commits it.
   */
  @Post(':name/specs')
  @ApiProblems(...BODY_PROBLEMS, 'workspace_not_found')
  createSpec(@CurrentUser() user: AuthUser, @Param() params: WorkspaceParams, @Body() body: CreateSpecDto): Promise<SpecDetail> {
    return this.specs.create(user.id, params.name, body);
  }

  /**
   * List a workspace's specs
   *
   * @remarks In the order of their numbers, all at once: a workspace holds a handful of specs.
   */
  @Get(':name/specs')
  @ApiProblems('validation_failed', 'workspace_not_found')
  async listSpecs(@CurrentUser() user: AuthUser, @Param() params: WorkspaceParams): Promise<SpecPage> {
    return { items: await this.specs.list(user.id, params.name), nextCursor: null };
  }

  /**
   * Get a spec
   *
   * @remarks One spec; `content` is the whole spec.md.
   */
  @Get(':name/specs/:specId')
  @ApiProblems('validation_failed', 'workspace_not_found', 'spec_not_found')
  getSpec(@CurrentUser() user: AuthUser, @Param() params: SpecParams): Promise<SpecDetail> {
    return this.specs.read(user.id, params.name, params.specId);
  }
}
