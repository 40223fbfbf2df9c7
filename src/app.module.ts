import { DynamicModule, Module, ValidationPipe } from '@nestjs/common';
import { APP_FILTER, APP_PIPE } from '@nestjs/core';
import { AgentsModule } from './agents/agents.module.js';
import { AuthModule, HttpAuthModule } from './auth/auth.module.js';
import { ProblemFilter } from './common/problem.filter.js';
import { AppConfigModule } from './config/config.module.js';
import type { AppConfig } from './config/configuration.js';
import { DaemonModule } from './daemon/daemon.module.js';
import { DatabaseModule } from './database/database.module.js';
import { HealthModule } from './health/health.module.js';
import { QuotaModule } from './quota/quota.module.js';
import { WorkspaceModule } from './workspace/workspace.module.js';

/** The HTTP server: every feature module, the global guard, pipe and filter. */
@Module({})
export class AppModule {
  static forRoot(config: AppConfig): DynamicModule {
    return {
      module: AppModule,
      imports: [
        AppConfigModule.forRoot(config),
        DatabaseModule,
        AuthModule,
        HttpAuthModule,
        WorkspaceModule,
        QuotaModule,
        AgentsModule.forRoot({ runsAgents: config.role !== 'api', http: true }),
        HealthModule,
        DaemonModule,
      ],
      providers: [
        { provide: APP_FILTER, useClass: ProblemFilter },
        {
          provide: APP_PIPE,
          useValue: new ValidationPipe({
            whitelist: true,
            forbidNonWhitelisted: true,
            transform: true,
            stopAtFirstError: false,
          }),
        },
      ],
    };
  }
}
