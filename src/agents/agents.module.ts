import { DynamicModule, Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { IdempotencyModule } from '../idempotency/idempotency.module.js';
import { SandboxService } from '../sandbox/sandbox.service.js';
import { WorkspaceModule } from '../workspace/workspace.module.js';
import { AgentProfilesService } from './agent-profiles.service.js';
import { RUNS_AGENTS } from './agents.tokens.js';
import { DispatcherService } from './dispatcher.service.js';
import { Run } from './entities/run.entity.js';
import { RunEvent } from './entities/run-event.entity.js';
import { ClaudeExecutor } from './executors/claude.executor.js';
import { CommandExecutor } from './executors/command.executor.js';
import { Executor } from './executors/executor.js';
import { RoutingExecutor } from './executors/routing.executor.js';
import { RunEventsService } from './run-events.service.js';
import { RunRelayService } from './run-relay.service.js';
import { LocalRunQueue, RunQueue } from './run-queue.js';
import { AdminRunsController, AgentsController, RunsController } from './runs.controller.js';
import { RunsService } from './runs.service.js';
import { SeedCompatController } from './seed-compat.controller.js';

export interface AgentsModuleOptions {
  /** Start the dispatcher in this process (the server with ROLE all or worker). */
  runsAgents: boolean;
  /** Serve the runs and agents routes (the server; not the CLI). */
  http: boolean;
}

@Module({})
export class AgentsModule {
  static forRoot(options: AgentsModuleOptions): DynamicModule {
    return {
      module: AgentsModule,
      global: true,
      imports: [TypeOrmModule.forFeature([Run, RunEvent]), WorkspaceModule, IdempotencyModule],
      controllers: options.http ? [RunsController, AdminRunsController, AgentsController, SeedCompatController] : [],
      providers: [
        { provide: RUNS_AGENTS, useValue: options.runsAgents },
        { provide: RunQueue, useClass: LocalRunQueue },
        AgentProfilesService,
        // Only a server talks to the other nodes; the CLI does not.
        ...(options.http || options.runsAgents ? [RunRelayService] : []),
        SandboxService,
        RunEventsService,
        RunsService,
        DispatcherService,
        CommandExecutor,
        ClaudeExecutor,
        { provide: Executor, useClass: RoutingExecutor },
      ],
      exports: [RunsService, RunEventsService, AgentProfilesService, DispatcherService, SandboxService, ...(options.http || options.runsAgents ? [RunRelayService] : [])],
    };
  }
}
