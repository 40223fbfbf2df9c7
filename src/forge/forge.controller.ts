import { Body, Controller, Delete, HttpCode, Param, ParseUUIDPipe, Post, Put } from '@nestjs/common';
import { ApiTags } from '@nestjs/swagger';
import type { RunPullRequest } from '../runs/entities/run.entity.js';
import { CurrentUser, type AuthUser } from '../auth/auth.decorators.js';
import { ApiProblems, BODY_PROBLEMS } from '../common/api-problems.js';
import { WorkspaceParams } from '../workspace/dto/workspace.dto.js';
import { WorkspaceCredentialsService } from './credentials.service.js';
import { OpenPullRequestDto, PutCredentialDto } from './dto/forge.dto.js';
import type { PushResultView, WorkspaceCredentialView } from './forge.view.js';
import { PullRequestsService } from './pull-requests.service.js';

const uuid = new ParseUUIDPipe({ version: 'all' });

@ApiTags('Workspaces')
@Controller('api/v1/workspaces')
export class WorkspaceCredentialsController {
  constructor(private readonly credentials: WorkspaceCredentialsService) {}

  /**
   * Store a workspace's push credential
   *
   * @remarks Stores (or replaces) the token the server pushes runs' branches and opens pull requests with. It is encrypted at rest, given to git only through the environment of the push, and never returned by any route nor given to an agent.
   */
  @Put(':name/credentials')
  @ApiProblems(...BODY_PROBLEMS, 'workspace_not_found')
  put(@CurrentUser() user: AuthUser, @Param() params: WorkspaceParams, @Body() body: PutCredentialDto): Promise<WorkspaceCredentialView> {
    return this.credentials.put(user.id, params.name, body);
  }

  /**
   * Remove a workspace's push credential
   *
   * @remarks Forgets the stored token; a workspace without one answers 204 too.
   */
  @Delete(':name/credentials')
  @HttpCode(204)
  @ApiProblems('validation_failed', 'workspace_not_found')
  async remove(@CurrentUser() user: AuthUser, @Param() params: WorkspaceParams): Promise<void> {
    await this.credentials.remove(user.id, params.name);
  }
}

@ApiTags('Runs')
@Controller('api/v1/runs')
export class RunPullRequestsController {
  constructor(private readonly pullRequests: PullRequestsService) {}

  /**
   * Push a run's branch
   *
   * @remarks Pushes the finished run's branch `autocode/<id>` to the repository its workspace was cloned from, with the workspace's credential. 409 `nothing_to_push` when the run changed nothing, `run_active` while it is queued or running; 502 `push_failed` with git's message.
   */
  @Post(':id/push')
  @HttpCode(200)
  @ApiProblems('validation_failed', 'run_not_found', 'workspace_not_found', 'run_active', 'nothing_to_push', 'no_remote', 'credential_unreadable', 'repo_url_not_allowed', 'push_failed')
  push(@CurrentUser() user: AuthUser, @Param('id', uuid) id: string): Promise<PushResultView> {
    return this.pullRequests.push(user.id, id);
  }

  /**
   * Open a pull request for a run
   *
   * @remarks Pushes the run's branch if needed, then opens a pull request (GitHub) or merge request (GitLab) for it on the workspace's forge. The title defaults to the prompt's first line, the body to a summary of the run with a link back to it. The run records it in `pullRequest`, and webhooks get `run.pull_request_opened`.
   */
  @Post(':id/pull-request')
  @HttpCode(201)
  @ApiProblems(
    ...BODY_PROBLEMS,
    'run_not_found',
    'workspace_not_found',
    'run_active',
    'nothing_to_push',
    'no_remote',
    'forge_not_configured',
    'credential_unreadable',
    'pull_request_exists',
    'repo_url_not_allowed',
    'push_failed',
    'forge_request_failed',
  )
  open(@CurrentUser() user: AuthUser, @Param('id', uuid) id: string, @Body() body: OpenPullRequestDto): Promise<RunPullRequest> {
    return this.pullRequests.open(user.id, id, body);
  }
}
