import { DynamicModule, Module } from '@nestjs/common';
import { AgentsModule } from '../agents/agents.module.js';
import { DispatchModule } from '../dispatch/dispatch.module.js';
import { RunEventsModule } from '../runs/run-events.module.js';
import { RunsModule } from '../runs/runs.module.js';
import { AgentsCommand, AgentsListCommand } from '../agents/commands/agents.command.js';
import { RunsCancelCommand, RunsCommand, RunsListCommand, RunsLogsCommand, RunsShowCommand } from '../runs/commands/runs.command.js';
import { AuthModule } from '../auth/auth.module.js';
import { TokenCommand, TokenCreateCommand } from '../auth/commands/token.command.js';
import { ClockModule } from '../common/clock.js';
import { AppConfigModule } from '../config/config.module.js';
import type { AppConfig } from '../config/configuration.js';
import { DbCommand, DbMigrateCommand } from '../database/commands/db.command.js';
import { DatabaseModule } from '../database/database.module.js';
import { LoggingModule } from '../logging/logging.module.js';
import { MetricsModule } from '../metrics/metrics.module.js';
import { QuotaCommand, QuotaSetCommand, QuotaShowCommand, UsersCommand, UsersListCommand } from '../quota/commands/quota.command.js';
import { QuotaModule } from '../quota/quota.module.js';
import { WorkspaceModule } from '../workspace/workspace.module.js';
import { ServeCommand } from './serve.command.js';
import {
  ServerCommand,
  ServerLogsCommand,
  ServerRestartCommand,
  ServerStartCommand,
  ServerStatusCommand,
  ServerStopCommand,
} from '../daemon/commands/server.command.js';
import { UsageErrors } from './usage-errors.js';
import { WebhooksModule } from '../webhooks/webhooks.module.js';

/**
 * The `autocode` CLI: the server's own feature modules and database, with no
 * HTTP and no dispatcher (the CLI never runs agents).
 */
@Module({})
export class CliModule {
  static forRoot(config: AppConfig): DynamicModule {
    return {
      module: CliModule,
      imports: [
        AppConfigModule.forRoot(config),
        LoggingModule.forRoot(config, 'cli'),
        ClockModule.forRoot(),
        DatabaseModule,
        MetricsModule,
        AuthModule,
        WorkspaceModule,
        QuotaModule.forRoot({ http: false }),
        RunEventsModule,
        RunsModule.forRoot({ http: false }),
        AgentsModule.forRoot({ runsAgents: false, http: false }),
        DispatchModule.forRoot({ server: false, runsAgents: false, redisUrl: null }),
        WebhooksModule.forRoot({ http: false, deliver: false }),
      ],
      providers: [
        UsageErrors,
        ServeCommand,
        ServerCommand,
        ServerStartCommand,
        ServerStopCommand,
        ServerRestartCommand,
        ServerStatusCommand,
        ServerLogsCommand,
        TokenCommand,
        TokenCreateCommand,
        RunsCommand,
        RunsListCommand,
        RunsShowCommand,
        RunsCancelCommand,
        RunsLogsCommand,
        AgentsCommand,
        AgentsListCommand,
        DbCommand,
        DbMigrateCommand,
        UsersCommand,
        UsersListCommand,
        QuotaCommand,
        QuotaShowCommand,
        QuotaSetCommand,
      ],
    };
  }
}
