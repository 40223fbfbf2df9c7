import { Body, Controller, Get, Headers, HttpCode, Param, ParseUUIDPipe, Post, Query, Req, Res, StreamableFile } from '@nestjs/common';
import { Readable } from 'node:stream';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { CurrentUser, Roles, type AuthUser } from '../auth/auth.decorators.js';
import type { Page } from '../common/pagination.js';
import { ProblemError } from '../common/problem.js';
import { AgentProfilesService } from './agent-profiles.service.js';
import { AdminListRunsQuery, ListRunsQuery, RunEventsQuery } from './dto/run-queries.dto.js';
import { SubmitRunDto } from './dto/submit-run.dto.js';
import { streamRunEvents } from './run-stream.js';
import { RunEventsService } from './run-events.service.js';
import type { RunView } from './run-view.js';
import { RunsService } from './runs.service.js';

const uuid = new ParseUUIDPipe({ version: '4' });

@Controller('api/v1/runs')
export class RunsController {
  constructor(
    private readonly runs: RunsService,
    private readonly runEvents: RunEventsService,
  ) {}

  @Post()
  @HttpCode(202)
  submit(@CurrentUser() user: AuthUser, @Body() body: SubmitRunDto): Promise<RunView> {
    return this.runs.submit(user.id, body);
  }

  @Get()
  list(@CurrentUser() user: AuthUser, @Query() query: ListRunsQuery): Promise<Page<RunView>> {
    return this.runs.list({ userId: user.id }, query);
  }

  @Get(':id')
  get(@CurrentUser() user: AuthUser, @Param('id', uuid) id: string): Promise<RunView> {
    return this.runs.get({ userId: user.id }, id);
  }

  @Post(':id/cancel')
  @HttpCode(202)
  cancel(@CurrentUser() user: AuthUser, @Param('id', uuid) id: string): Promise<RunView> {
    return this.runs.cancel({ userId: user.id }, id);
  }

  /** SSE when the client accepts `text/event-stream`, JSON pages otherwise. */
  @Get(':id/events')
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

  @Get(':id/logs')
  async logs(@CurrentUser() user: AuthUser, @Param('id', uuid) id: string): Promise<StreamableFile> {
    await this.runs.find({ userId: user.id }, id);
    return new StreamableFile(Readable.from(this.runs.log(id)), { type: 'text/plain; charset=utf-8' });
  }

  @Get(':id/diff')
  async diff(@CurrentUser() user: AuthUser, @Param('id', uuid) id: string): Promise<StreamableFile> {
    return new StreamableFile(Buffer.from(await this.runs.diff({ userId: user.id }, id), 'utf8'), { type: 'text/x-diff; charset=utf-8' });
  }
}

/** Every user's runs, for admins. */
@Roles('admin')
@Controller('api/v1/admin/runs')
export class AdminRunsController {
  constructor(private readonly runs: RunsService) {}

  @Get()
  list(@Query() query: AdminListRunsQuery): Promise<Page<RunView>> {
    return this.runs.list('all', query);
  }
}

@Controller('api/v1/agents')
export class AgentsController {
  constructor(private readonly profiles: AgentProfilesService) {}

  @Get()
  list(): { items: { name: string; executor: string; description: string; default: boolean }[] } {
    const defaultAgent = this.profiles.defaultAgent;
    return {
      items: this.profiles.list().map((profile) => ({
        name: profile.name,
        executor: profile.executor,
        description: profile.description,
        default: profile.name === defaultAgent,
      })),
    };
  }
}
