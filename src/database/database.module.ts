import { Global, Module } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { TypeOrmModule } from '@nestjs/typeorm';
import type { AppConfig } from '../config/configuration.js';
import { dataSourceOptions } from './data-source-options.js';
import { DatabaseService } from './database.service.js';

const CONNECT_ATTEMPTS = 4;
const CONNECT_RETRY_DELAY_MS = 2000;

@Global()
@Module({
  imports: [
    TypeOrmModule.forRootAsync({
      inject: [ConfigService],
      useFactory: (config: ConfigService<AppConfig, true>) => ({
        ...dataSourceOptions(config.get('database', { infer: true })),
        // A database that does not answer at start: a few attempts, then the process exits (1) and
        // its supervisor starts it again, rather than half a minute of retries.
        retryAttempts: CONNECT_ATTEMPTS,
        retryDelay: CONNECT_RETRY_DELAY_MS,
      }),
    }),
  ],
  providers: [DatabaseService],
  exports: [DatabaseService],
})
export class DatabaseModule {}
