import { DynamicModule, Module } from '@nestjs/common';
import { ConfigModule, ConfigService } from '@nestjs/config';
import type { AppConfig } from './configuration.js';

export type AppConfigService = ConfigService<AppConfig, true>;

/**
 * Makes the validated configuration injectable everywhere as a typed
 * `ConfigService<AppConfig, true>`. The environment is read and validated
 * before Nest starts (see `loadConfiguration`), so a bad value never gets as
 * far as a half-built application.
 */
@Module({})
export class AppConfigModule {
  static forRoot(config: AppConfig): Promise<DynamicModule> {
    return ConfigModule.forRoot({
      isGlobal: true,
      ignoreEnvFile: true,
      skipProcessEnv: true,
      load: [() => config],
    });
  }
}
