import { ConsoleLogger, type LogLevel } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { AppModule, type AppOptions } from './app.module.js';
import type { AppConfig } from './config/configuration.js';
import { DatabaseService } from './database/database.service.js';

/** Largest request body accepted (a 100,000-character prompt fits with room to spare). */
const BODY_LIMIT_BYTES = 1024 * 1024;

const LEVELS: LogLevel[] = ['fatal', 'error', 'warn', 'log', 'debug', 'verbose'];

export function createLogger(config: AppConfig): ConsoleLogger {
  const level = ({ fatal: 'fatal', error: 'error', warn: 'warn', info: 'log', debug: 'debug', trace: 'verbose' } as const)[
    config.log.level as 'info'
  ];
  return new ConsoleLogger('autocode', {
    json: config.log.format === 'json',
    logLevels: LEVELS.slice(0, LEVELS.indexOf(level ?? 'log') + 1),
  });
}

/**
 * Builds the HTTP application: Fastify, migrations applied, initialized. The
 * caller listens and owns the process signals (see `startServer`).
 */
export async function createApp(config: AppConfig, options: AppOptions = {}): Promise<NestFastifyApplication> {
  const adapter = new FastifyAdapter({ bodyLimit: BODY_LIMIT_BYTES, return503OnClosing: true });
  // JSON in: Fastify's own JSON parser only. Without Nest's extra parsers and Fastify's text/plain one,
  // any other media type is refused with 415 instead of reaching validation as a string or a form.
  adapter.getInstance().removeContentTypeParser('text/plain');
  const app = await NestFactory.create<NestFastifyApplication>(AppModule.forRoot(config, options), adapter, {
    logger: createLogger(config),
    abortOnError: false,
    bodyParser: false,
  });
  await app.get(DatabaseService).runMigrations();
  await app.init();
  return app;
}
