import { DynamicModule, Module } from '@nestjs/common';
import { SandboxService } from '../sandbox/sandbox.service.js';
import { AgentProfilesService } from './agent-profiles.service.js';
import { AgentsController } from './agents.controller.js';
import { RUNS_AGENTS } from './agents.tokens.js';
import { ClaudeExecutor } from './executors/claude.executor.js';
import { CommandExecutor } from './executors/command.executor.js';
import { Executor } from './executors/executor.js';
import { RoutingExecutor } from './executors/routing.executor.js';
import { SessionTranscripts } from './executors/session-store.js';

export interface AgentsModuleOptions {
  /** This process runs agents (the server with ROLE all or worker). */
  runsAgents: boolean;
  /** Serve `GET /api/v1/agents` (the server; not the CLI). */
  http: boolean;
}

/** The agent profiles, and the executors and sandbox that start their agents. */
@Module({})
export class AgentsModule {
  static forRoot(options: AgentsModuleOptions): DynamicModule {
    return {
      module: AgentsModule,
      global: true,
      controllers: options.http ? [AgentsController] : [],
      providers: [
        { provide: RUNS_AGENTS, useValue: options.runsAgents },
        AgentProfilesService,
        SandboxService,
        CommandExecutor,
        SessionTranscripts,
        ClaudeExecutor,
        { provide: Executor, useClass: RoutingExecutor },
      ],
      exports: [RUNS_AGENTS, AgentProfilesService, SandboxService, Executor, SessionTranscripts],
    };
  }
}
