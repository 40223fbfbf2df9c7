import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { IdempotencyModule } from '../idempotency/idempotency.module.js';
import { Workspace } from './entities/workspace.entity.js';
import { SpecsService } from './specs.service.js';
import { WorkspaceService } from './workspace.service.js';
import { WorkspacesController } from './workspaces.controller.js';
import { WorkspacesService } from './workspaces.service.js';
import { WorktreesService } from './worktrees.service.js';

@Module({
  imports: [TypeOrmModule.forFeature([Workspace]), IdempotencyModule],
  providers: [WorkspaceService, WorkspacesService, SpecsService, WorktreesService],
  exports: [WorkspaceService, WorkspacesService, SpecsService, WorktreesService],
})
export class WorkspaceModule {}

/** The workspace routes, where the API is served (not on a worker, not in the CLI). */
@Module({
  imports: [WorkspaceModule, IdempotencyModule],
  controllers: [WorkspacesController],
})
export class WorkspaceHttpModule {}
