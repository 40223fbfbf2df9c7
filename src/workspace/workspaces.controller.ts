import { Body, Controller, Delete, Get, HttpCode, Param, Post, Query } from '@nestjs/common';
import { CurrentUser, type AuthUser } from '../auth/auth.decorators.js';
import type { Page } from '../common/pagination.js';
import { CreateSpecDto, CreateWorkspaceDto, ListWorkspacesQuery, SpecParams, WorkspaceParams } from './dto/workspace.dto.js';
import { SpecsService, type SpecDetail, type SpecView } from './specs.service.js';
import { WorkspacesService, type WorkspaceDetail, type WorkspaceView } from './workspaces.service.js';

@Controller('api/v1/workspaces')
export class WorkspacesController {
  constructor(
    private readonly workspaces: WorkspacesService,
    private readonly specs: SpecsService,
  ) {}

  @Post()
  create(@CurrentUser() user: AuthUser, @Body() body: CreateWorkspaceDto): Promise<WorkspaceDetail> {
    return this.workspaces.create(user.id, body);
  }

  @Get()
  list(@CurrentUser() user: AuthUser, @Query() query: ListWorkspacesQuery): Promise<Page<WorkspaceView>> {
    return this.workspaces.list(user.id, query);
  }

  @Get(':name')
  get(@CurrentUser() user: AuthUser, @Param() params: WorkspaceParams): Promise<WorkspaceDetail> {
    return this.workspaces.get(user.id, params.name);
  }

  @Delete(':name')
  @HttpCode(204)
  async remove(@CurrentUser() user: AuthUser, @Param() params: WorkspaceParams): Promise<void> {
    await this.workspaces.remove(user.id, params.name);
  }

  @Post(':name/specs')
  createSpec(@CurrentUser() user: AuthUser, @Param() params: WorkspaceParams, @Body() body: CreateSpecDto): Promise<SpecDetail> {
    return this.specs.create(user.id, params.name, body);
  }

  /** In the order of their numbers, all at once: a workspace holds a handful of specs. */
  @Get(':name/specs')
  async listSpecs(@CurrentUser() user: AuthUser, @Param() params: WorkspaceParams): Promise<Page<SpecView>> {
    return { items: await this.specs.list(user.id, params.name), nextCursor: null };
  }

  @Get(':name/specs/:specId')
  getSpec(@CurrentUser() user: AuthUser, @Param() params: SpecParams): Promise<SpecDetail> {
    return this.specs.read(user.id, params.name, params.specId);
  }
}
