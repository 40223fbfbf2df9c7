import { Body, Controller, Get, Headers, HttpCode, Param, ParseUUIDPipe, Post, Query, Req, Res, StreamableFile } from '@nestjs/common';
import { ApiExtraModels, ApiHeader, ApiOkResponse, ApiTags, getSchemaPath } from '@nestjs/swagger';
import { Readable } from 'node:stream';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { CurrentUser, Roles, type AuthUser } from '../auth/auth.decorators.js';
import { ApiProblems, BODY_PROBLEMS } from '../common/api-problems.js';
import { ProblemError } from '../common/problem.js';
import { ApiIdempotencyKey, IDEMPOTENCY_KEY_HEADER, IDEMPOTENT_REPLAYED_HEADER } from '../idempotency/idempotency.decorators.js';
import { IdempotencyService } from '../idempotency/idempotency.service.js';
import { AdminListRunsQuery, ListRunsQuery, RunEventsQuery } from './dto/run-queries.dto.js';
import { SendMessageDto } from './dto/send-message.dto.js';
import { SubmitRunDto } from './dto/submit-run.dto.js';
import { FollowUpsService } from './follow-ups.service.js';
import { streamRunEvents } from './run-stream.js';
import { RunEventsService } from './run-events.service.js';
import { RunEventPage, type RunPage, type RunView } from './run.view.js';
import { RunsService } from './runs.service.js';

// Run ids are UUIDv7 (older ones v4); any RFC 9562 UUID is looked up.
const uuid = new ParseUUIDPipe({ version: 'all' });

@ApiTags('Runs')
@Controller('api/v1/runs')
export class RunsController {
  constructor(
    private readonly runs: RunsService,
    private readonly runEvents: RunEventsService,
    private readonly idempotency: IdempotencyService,
    private readonly followUps: FollowUpsService,
  ) {}

  /**
   * Submit a run
   *
   * @remarks Queues one run of an agent profile on a prompt (or a spec of a named workspace). The run starts when this node has a free slot and the user is under their concurrent limit. With `Idempotency-Key`, a retry with the same body answers the first answer again.
   */
  @Post()
  @HttpCode(202)
  @ApiProblems(
    ...BODY_PROBLEMS,
    'unknown_agent',
    'timeout_exceeds_quota',
    'budget_exceeds_quota',
    'workspace_not_found',
    'spec_not_found',
    'daily_limit',
    'budget_exhausted',
    'queue_full',
    'concurrency_limit',
    'shutting_down',
    'idempotency_key_reused',
  )
  @ApiIdempotencyKey()
  async submit(
    @CurrentUser() user: AuthUser,
    @Body() body: SubmitRunDto,
    @Headers(IDEMPOTENCY_KEY_HEADER) key: string | undefined,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<RunView> {
    const { run, replayed } = await this.runs.submit(user.id, body, this.idempotency.request(user.id, key, 'POST /api/v1/runs', body));
    if (replayed) void reply.header(IDEMPOTENT_REPLAYED_HEADER, 'true');
    return run;
  }

  /**
   * List own runs
   *
   * @remarks The caller's runs, newest first, filtered by `status`, `agent` and text in the prompt (`q`); pass `nextCursor` as `cursor` for the next page.
   */
  @Get()
  @ApiProblems('validation_failed')
  list(@CurrentUser() user: AuthUser, @Query() query: ListRunsQuery): Promise<RunPage> {
    return this.runs.list({ userId: user.id }, query);
  }

  /**
   * Get a run
   *
   * @remarks One of the caller's runs; another user's run answers 404 `run_not_found`.
   */
  @Get(':id')
  @ApiProblems('validation_failed', 'run_not_found')
  get(@CurrentUser() user: AuthUser, @Param('id', uuid) id: string): Promise<RunView> {
    return this.runs.get({ userId: user.id }, id);
  }

  /**
   * Cancel a run
   *
   * @remarks Cancels a queued run at once; a running one is ended by the server within a second or two (its status then becomes `cancelled`). A finished run answers 409 `run_finished`.
   */
  @Post(':id/cancel')
  @HttpCode(202)
  @ApiProblems('validation_failed', 'run_not_found', 'run_finished')
  cancel(@CurrentUser() user: AuthUser, @Param('id', uuid) id: string): Promise<RunView> {
    return this.runs.cancel({ userId: user.id }, id);
  }

  /**
   * Send a message to a run
   *
   * @remarks To a queued or running `claude` run: the message goes into its live session (recorded as a `user_message` event when it reaches the agent), and the answer is the run. To a finished run: a follow-up, a new run with `parentRunId` set, of the same agent in the same workspace, continuing the same session (or running the profile's `resumeCommand`), admitted by the quota like a submit. 409 `follow_up_unsupported` for a `command` profile without `resumeCommand`.
   */
  @Post(':id/messages')
  @HttpCode(202)
  @ApiProblems(...BODY_PROBLEMS, 'run_not_found', 'follow_up_unsupported', 'workspace_not_found', 'daily_limit', 'queue_full', 'concurrency_limit', 'shutting_down')
  sendMessage(@CurrentUser() user: AuthUser, @Param('id', uuid) id: string, @Body() body: SendMessageDto): Promise<RunView> {
    return this.followUps.send(user.id, id, body.prompt);
  }

  /**
   * Read or follow a run's events
   *
   * @remarks With `Accept: text/event-stream`: Server-Sent Events, the stored events after `Last-Event-ID` (or `after`), then live ones, closing after the final status event; each frame's `id` is the event `seq`, `event` its `type` and `data` the RunEvent as JSON. Otherwise a JSON page of events after `after`, in `seq` order.
   */
  @Get(':id/events')
  @ApiHeader({ name: 'Last-Event-ID', required: false, description: 'SSE: resume after this event `seq` (instead of `after`)' })
  @ApiExtraModels(RunEventPage)
  @ApiOkResponse({
    description: 'A page of events; with `Accept: text/event-stream`, the stored events then live ones, closing after the final status event',
    content: {
      'application/json': { schema: { $ref: getSchemaPath(RunEventPage) } },
      'text/event-stream': {
        schema: { type: 'string', description: 'Server-Sent Events: one frame per event, `id` its `seq`, `event` its `type`, `data` the event as JSON (schema `RunEvent`)' },
      },
    },
  })
  @ApiProblems('validation_failed', 'run_not_found')
  async events(
    @CurrentUser() user: AuthUser,
    @Param('id', uuid) id: string,
    @Query() query: RunEventsQuery,
    @Headers('last-event-id') lastEventId: string | undefined,
    @Req() request: FastifyRequest,
    @Res() reply: FastifyReply,
  ): Promise<void> {
    const accept = request.headers.accept ?? '';
    if (!accept.includes('text/event-stream')) {
      await reply.send(await this.runs.listEvents({ userId: user.id }, id, query.after ?? 0, query.limit ?? 100));
      return;
    }
    const run = await this.runs.find({ userId: user.id }, id);
    let after = query.after ?? 0;
    if (lastEventId !== undefined) {
      if (!/^\d{1,15}$/.test(lastEventId.trim())) {
        throw new ProblemError('validation_failed', 'Last-Event-ID must be an event seq');
      }
      after = Number(lastEventId.trim());
    }
    await streamRunEvents(reply, this.runEvents, run, after);
  }

  /**
   * Read a run's log
   *
   * @remarks The run's stdout, stderr and agent messages as plain text, in order.
   */
  @Get(':id/logs')
  @ApiOkResponse({
    description: "The run's stdout, stderr and agent messages, in order",
    content: { 'text/plain': { schema: { type: 'string' } } },
  })
  @ApiProblems('validation_failed', 'run_not_found')
  async logs(@CurrentUser() user: AuthUser, @Param('id', uuid) id: string): Promise<StreamableFile> {
    await this.runs.find({ userId: user.id }, id);
    return new StreamableFile(Readable.from(this.runs.log(id)), { type: 'text/plain; charset=utf-8' });
  }

  /**
   * Read a run's diff
   *
   * @remarks The unified diff of what a run on a named workspace changed, once it has finished; empty when it changed nothing. 404 `diff_not_found` for a run without one.
   */
  @Get(':id/diff')
  @ApiOkResponse({
    description: 'The unified diff of what the run changed in its workspace',
    content: { 'text/x-diff': { schema: { type: 'string' } } },
  })
  @ApiProblems('validation_failed', 'run_not_found', 'diff_not_found')
  async diff(@CurrentUser() user: AuthUser, @Param('id', uuid) id: string): Promise<StreamableFile> {
    return new StreamableFile(Buffer.from(await this.runs.diff({ userId: user.id }, id), 'utf8'), { type: 'text/x-diff; charset=utf-8' });
  }
}

/** Every user's runs, for admins. */
@ApiTags('Admin')
@Roles('admin')
@Controller('api/v1/admin/runs')
export class AdminRunsController {
  constructor(private readonly runs: RunsService) {}

  /**
   * List every user's runs
   *
   * @remarks Admins only: the filters of `GET /api/v1/runs` plus `userId`.
   */
  @Get()
  @ApiProblems('validation_failed')
  list(@Query() query: AdminListRunsQuery): Promise<RunPage> {
    return this.runs.list('all', query);
  }
}
