import { DynamicModule, Module } from '@nestjs/common';
import { APP_FILTER, APP_PIPE } from '@nestjs/core';
import { AgentsModule } from './agents/agents.module.js';
import { DispatchModule } from './dispatch/dispatch.module.js';
import { RunEventsModule } from './runs/run-events.module.js';
import { RunsModule } from './runs/runs.module.js';
import { AuthModule, HttpAuthModule } from './auth/auth.module.js';
import { Clock, ClockModule } from './common/clock.js';
import { ProblemFilter } from './common/problem.filter.js';
import { RequestValidationPipe } from './common/request-validation.pipe.js';
import { AppConfigModule } from './config/config.module.js';
import type { AppConfig } from './config/configuration.js';
import { DaemonModule } from './daemon/daemon.module.js';
import { DashboardModule } from './dashboard/dashboard.module.js';
import { DatabaseModule } from './database/database.module.js';
import { ForgeModule } from './forge/forge.module.js';
import { HealthModule } from './health/health.module.js';
import { LoggingModule } from './logging/logging.module.js';
import { MetricsModule } from './metrics/metrics.module.js';
import { QuotaModule } from './quota/quota.module.js';
import { WorkspaceHttpModule, WorkspaceModule } from './workspace/workspace.module.js';
import { WebhooksModule } from './webhooks/webhooks.module.js';

/** The web dashboard is served by nodes that serve the API, unless `UI_ENABLED=false`. */
export function servesDashboard(config: AppConfig): boolean {
  return config.ui.enabled && config.role !== 'worker';
}

export interface AppOptions {
  /** Time source for date-dependent decisions; the system clock unless a test injects one. */
  clock?: Clock;
}

/** The HTTP server: every feature module, the global guard, pipe and filter. */
@Module({})
export class AppModule {
  static forRoot(config: AppConfig, options: AppOptions = {}): DynamicModule {
    // A worker runs agents and serves only health; an api node serves clients and runs no agents.
    const servesApi = config.role !== 'worker';
    return {
      module: AppModule,
      imports: [
        AppConfigModule.forRoot(config),
        LoggingModule.forRoot(config, 'server'),
        ClockModule.forRoot(options.clock),
        DatabaseModule,
        AuthModule,
        HttpAuthModule,
        WorkspaceModule,
        ...(servesApi ? [WorkspaceHttpModule] : []),
        ...(servesDashboard(config) ? [DashboardModule] : []),
        QuotaModule.forRoot({ http: servesApi }),
        RunEventsModule,
        RunsModule.forRoot({ http: servesApi }),
        AgentsModule.forRoot({ runsAgents: config.role !== 'api', http: servesApi }),
        DispatchModule.forRoot({ server: true, runsAgents: config.role !== 'api', redisUrl: config.redis.url }),
        WebhooksModule.forRoot({ http: servesApi, deliver: true }),
        ForgeModule.forRoot({ http: servesApi }),
        HealthModule,
        MetricsModule,
        DaemonModule,
      ],
      providers: [
        { provide: APP_FILTER, useClass: ProblemFilter },
        { provide: APP_PIPE, useValue: new RequestValidationPipe() },
      ],
    };
  }
}
