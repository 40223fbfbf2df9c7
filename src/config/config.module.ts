import { DynamicModule, Module } from '@nestjs/common';
import { ConfigModule } from '@nestjs/config';
import type { AppConfig } from './configuration.js';

/** The whole validated configuration, for the few places that pass it on (`autocode serve`). */
export const APP_CONFIG = Symbol('APP_CONFIG');

/**
 * Makes the validated configuration injectable everywhere as a typed
 * `ConfigService<AppConfig, true>`. The environment is read and validated
 * before Nest starts (see `loadConfiguration`), so a bad value never gets as
 * far as a half-built application.
 */
@Module({})
export class AppConfigModule {
  static async forRoot(config: AppConfig): Promise<DynamicModule> {
    return {
      module: AppConfigModule,
      global: true,
      imports: [await ConfigModule.forRoot({ isGlobal: true, ignoreEnvFile: true, skipProcessEnv: true, load: [() => config] })],
      providers: [{ provide: APP_CONFIG, useValue: config }],
      exports: [APP_CONFIG],
    };
  }
}
