#!/usr/bin/env node
import 'reflect-metadata';
import type { CommanderError } from 'commander';
import { CommandFactory } from 'nest-commander';
import type { DynamicModule, INestApplicationContext } from '@nestjs/common';
import { CliError } from './cli/output.js';
import { UsageErrors } from './cli/usage-errors.js';
import { loadConfiguration, type AppConfig } from './config/configuration.js';
import { bootstrapLogger, NestLogger } from './logging/logging.module.js';
import { exitWithStartupError, loadEnvFile } from './startup.js';

/** Exit statuses (API.md): 0 success, 1 failure, 2 bad usage. */
const EXIT_FAILURE = 1;
const EXIT_USAGE = 2;

/** Commands that do not read the database (or, for `db`, bring its schema up to date). */
const COMMANDS_WITHOUT_SCHEMA = new Set(['', 'agents', 'db', 'serve', 'server', 'token', 'help', '--help', '-h']);

/**
 * The modules the command needs: `agents` reads only the agent profiles, and
 * `serve` builds the server's own application, so neither loads the CLI's
 * database layer nor the other commands.
 */
async function commandModule(command: string, config: AppConfig): Promise<DynamicModule> {
  if (command === 'agents') return (await import('./cli/agents-cli.module.js')).AgentsCliModule.forRoot(config);
  if (command === 'serve') return (await import('./cli/serve-cli.module.js')).ServeCliModule.forRoot(config);
  return (await import('./cli/cli.module.js')).CliModule.forRoot(config);
}

function fail(error: unknown): never {
  const exitCode = error instanceof CliError ? error.exitCode : EXIT_FAILURE;
  process.stderr.write(`autocode: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(exitCode);
}

async function main(): Promise<void> {
  // `autocode runs list | head`: a closed pipe ends the command quietly.
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') process.exit(0);
    throw error;
  });
  loadEnvFile();
  const loaded = loadConfiguration();
  const command = process.argv[2] ?? '';
  // The CLI's own output is on stdout; its log (stderr) says only what went wrong unless asked for more.
  // `serve` is the server, whose log is its output: it keeps the server's level (info by default).
  const quiet = command !== 'serve' && !process.env.LOG_LEVEL;
  const config = quiet ? { ...loaded, log: { ...loaded.log, level: 'warn' } } : loaded;
  const module = await commandModule(command, config);
  const app = await CommandFactory.createWithoutRunning(module, {
    cliName: 'autocode',
    // The JSON logger from the start, also for what Nest logs before the context exists (see createApp).
    logger: bootstrapLogger(),
    enablePositionalOptions: true,
    serviceErrorHandler: (error) => fail(error),
  });
  app.get(UsageErrors).install((error: CommanderError) => {
    // commander has already printed its message (or the help text).
    const benign = error.code === 'commander.helpDisplayed' || error.code === 'commander.help' || error.code === 'commander.version';
    process.exit(benign ? 0 : EXIT_USAGE);
  });
  app.useLogger(app.get(NestLogger));
  if (!COMMANDS_WITHOUT_SCHEMA.has(command) && (await schemaIsBehind(app))) {
    throw new CliError('the database schema is not current: run `autocode db migrate` (the server also applies it when it starts)');
  }
  await CommandFactory.runApplication(app);
  await app.close();
}

async function schemaIsBehind(app: INestApplicationContext): Promise<boolean> {
  const { DatabaseService } = await import('./database/database.service.js');
  return app.get(DatabaseService).dataSource.showMigrations();
}

try {
  await main();
} catch (error) {
  if (error instanceof CliError) fail(error);
  exitWithStartupError(error);
}
