import { DynamicModule, Module } from '@nestjs/common';
import { AppConfigModule } from '../config/config.module.js';
import type { AppConfig } from '../config/configuration.js';
import { LoggingModule } from '../logging/logging.module.js';
import { ServeCommand } from './serve.command.js';
import { UsageErrors } from './usage-errors.js';

/**
 * `autocode serve`: the command alone. The server builds its own application
 * (database included), so the CLI opens no database of its own beside it.
 */
@Module({})
export class ServeCliModule {
  static forRoot(config: AppConfig): DynamicModule {
    return {
      module: ServeCliModule,
      imports: [AppConfigModule.forRoot(config), LoggingModule.forRoot(config, 'cli')],
      providers: [UsageErrors, ServeCommand],
    };
  }
}
