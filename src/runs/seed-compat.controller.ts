import { Body, Controller, Get, HttpCode, HttpStatus, Param, Post, Res } from '@nestjs/common';
import { ApiNotFoundResponse, ApiOkResponse, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { CurrentUser, Public, type AuthUser } from '../auth/auth.decorators.js';
import { ApiProblems, BODY_PROBLEMS } from '../common/api-problems.js';
import { ProblemError } from '../common/problem.js';
import { SeedRunDto, type SeedTaskStatus } from './dto/seed-compat.dto.js';
import type { RunStatus } from './entities/run.entity.js';
import type { RunView } from './run.view.js';
import { RunsService } from './runs.service.js';
import { SeedTask, type SeedHealth, type SeedTaskCancelled, type SeedTaskStarted } from './seed-compat.view.js';

const DEFAULT_WORKSPACE = 'default';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const SEED_STATUS: Record<RunStatus, SeedTaskStatus> = {
  queued: 'running',
  running: 'running',
  succeeded: 'completed',
  failed: 'failed',
  timed_out: 'failed',
  interrupted: 'failed',
  cancelled: 'cancelled',
};

function task(run: RunView): SeedTask {
  return { task_id: run.id, status: SEED_STATUS[run.status], result: run.result, error: run.error?.message ?? null };
}

/**
 * The routes of the seed's web backend, mapped onto runs, for its existing
 * clients. Unlike the seed, a task id is a run id and belongs to its user:
 * another user's task answers 404.
 */
@ApiTags('Seed compatibility')
@Controller('api/agents')
export class SeedCompatController {
  constructor(private readonly runs: RunsService) {}

  /**
   * Start a seed task
   *
   * @remarks The seed's `POST /api/agents/run`: starts the `agent_type` profile on a spec of a workspace (`default` unless named) as a run. Use `POST /api/v1/runs`.
   * @deprecated
   */
  @Post('run')
  @HttpCode(202)
  @ApiProblems(
    ...BODY_PROBLEMS,
    'unknown_agent',
    'workspace_not_found',
    'spec_not_found',
    'run_conflict',
    'daily_limit',
    'budget_exhausted',
    'queue_full',
    'concurrency_limit',
    'shutting_down',
  )
  async run(@CurrentUser() user: AuthUser, @Body() body: SeedRunDto): Promise<SeedTaskStarted> {
    const workspace = body.workspace ?? DEFAULT_WORKSPACE;
    const active = await Promise.all(
      (['queued', 'running'] as const).map((status) => this.runs.list({ userId: user.id }, { agent: body.agent_type, status, limit: 100 })),
    );
    if (active.some((page) => page.items.some((run) => run.specId === body.spec_id && run.workspace === workspace))) {
      throw new ProblemError('run_conflict', `a ${body.agent_type} task for spec ${body.spec_id} is already running`);
    }
    const { run } = await this.runs.submit(user.id, { agent: body.agent_type, specId: body.spec_id, workspace, model: body.model });
    return { task_id: run.id, spec_id: body.spec_id, agent_type: body.agent_type, status: 'started', message: `${body.agent_type} started on spec ${body.spec_id}` };
  }

  /**
   * Get a seed task
   *
   * @remarks The seed's task status of a run; an unknown task answers 404 with `status: not_found`. Use `GET /api/v1/runs/{id}`.
   * @deprecated
   */
  @Get('status/:taskId')
  @ApiOkResponse({ type: SeedTask })
  @ApiNotFoundResponse({ type: SeedTask, description: 'No such task of this user: `status` is `not_found`' })
  async status(@CurrentUser() user: AuthUser, @Param('taskId') taskId: string, @Res() reply: FastifyReply): Promise<void> {
    const run = await this.findOwn(user, taskId);
    if (!run) {
      await reply.status(HttpStatus.NOT_FOUND).send({ task_id: taskId, status: 'not_found', result: null, error: 'task not found' } satisfies SeedTask);
      return;
    }
    await reply.send(task(run));
  }

  /**
   * Cancel a seed task
   *
   * @remarks The seed's cancel of a run. Use `POST /api/v1/runs/{id}/cancel`.
   * @deprecated
   */
  @Post('cancel/:taskId')
  @HttpCode(200)
  @ApiProblems('run_not_found', 'run_finished')
  async cancel(@CurrentUser() user: AuthUser, @Param('taskId') taskId: string): Promise<SeedTaskCancelled> {
    if (!UUID.test(taskId)) throw new ProblemError('run_not_found', `there is no task ${taskId}`);
    const run = await this.runs.cancel({ userId: user.id }, taskId);
    return { ...task(run), message: run.status === 'cancelled' ? 'task cancelled' : 'cancellation requested' };
  }

  /**
   * Seed health check
   *
   * @remarks The seed's `GET /api/agents/health`; public. Use `GET /health/live`.
   * @deprecated
   */
  @Public()
  @Get('health')
  @ApiProblems('rate_limited')
  health(): SeedHealth {
    return { status: 'ok', endpoint: 'agents' };
  }

  private async findOwn(user: AuthUser, taskId: string): Promise<RunView | null> {
    if (!UUID.test(taskId)) return null;
    try {
      return await this.runs.get({ userId: user.id }, taskId);
    } catch (error) {
      if (error instanceof ProblemError && error.code === 'run_not_found') return null;
      throw error;
    }
  }
}
