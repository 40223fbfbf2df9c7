import { DynamicModule, Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { Workspace } from '../workspace/entities/workspace.entity.js';
import { WorkspaceModule } from '../workspace/workspace.module.js';
import { WorkspaceCredentialsService } from './credentials.service.js';
import { RunPullRequestsController, WorkspaceCredentialsController } from './forge.controller.js';
import { PullRequestsService } from './pull-requests.service.js';
import { SecretsCipher } from './secrets-cipher.js';

export interface ForgeModuleOptions {
  /** Serve the credential, push and pull request routes (the server with the API). */
  http: boolean;
}

/**
 * Pushing runs' branches and opening their pull requests: workspace credentials, the forges'
 * APIs, and the pull requests submits ask for, opened on the node that finishes the run.
 */
@Module({})
export class ForgeModule {
  static forRoot(options: ForgeModuleOptions): DynamicModule {
    return {
      module: ForgeModule,
      imports: [TypeOrmModule.forFeature([Workspace]), WorkspaceModule],
      controllers: options.http ? [WorkspaceCredentialsController, RunPullRequestsController] : [],
      providers: [SecretsCipher, WorkspaceCredentialsService, PullRequestsService],
      exports: [PullRequestsService],
    };
  }
}
