import { DynamicModule, Module } from '@nestjs/common';
import { AgentProfilesService } from '../agents/agent-profiles.service.js';
import { AgentsCommand, AgentsListCommand } from '../agents/commands/agents.command.js';
import { AppConfigModule } from '../config/config.module.js';
import type { AppConfig } from '../config/configuration.js';
import { LoggingModule } from '../logging/logging.module.js';
import { UsageErrors } from './usage-errors.js';

/** `autocode agents …`: the agent profiles and nothing else (no database, no other command). */
@Module({})
export class AgentsCliModule {
  static forRoot(config: AppConfig): DynamicModule {
    return {
      module: AgentsCliModule,
      imports: [AppConfigModule.forRoot(config), LoggingModule.forRoot(config, 'cli')],
      providers: [UsageErrors, AgentProfilesService, AgentsCommand, AgentsListCommand],
    };
  }
}
