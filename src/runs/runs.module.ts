import { DynamicModule, Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { IdempotencyModule } from '../idempotency/idempotency.module.js';
import { WorkspaceModule } from '../workspace/workspace.module.js';
import { RunApprovalsController } from './approvals.controller.js';
import { ApprovalsService } from './approvals.service.js';
import { Run } from './entities/run.entity.js';
import { FollowUpsService } from './follow-ups.service.js';
import { AdminRunsController, RunsController } from './runs.controller.js';
import { RunsService } from './runs.service.js';
import { SeedCompatController } from './seed-compat.controller.js';

/** The runs API: submit, read, follow and cancel runs (and the seed's routes onto it). */
@Module({})
export class RunsModule {
  static forRoot(options: { http: boolean }): DynamicModule {
    return {
      module: RunsModule,
      global: true,
      imports: [TypeOrmModule.forFeature([Run]), WorkspaceModule, IdempotencyModule],
      controllers: options.http ? [RunsController, AdminRunsController, SeedCompatController, RunApprovalsController] : [],
      providers: [RunsService, FollowUpsService, ApprovalsService],
      exports: [RunsService, ApprovalsService],
    };
  }
}
