import 'reflect-metadata';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DynamicModule, INestApplicationContext } from '@nestjs/common';
import type { CommanderError } from 'commander';
import { CommandFactory } from 'nest-commander';
import { loadConfiguration, type AppConfig, type LoadOptions } from '../config/configuration.js';
import { bootstrapLogger, NestLogger } from '../logging/logging.module.js';
import { exitWithStartupError } from '../startup.js';
import { CliError } from '../common/cli-output.js';
import { UsageErrors } from './usage-errors.js';

/** Exit statuses (API.md): 0 success, 1 failure, 2 bad usage. */
const EXIT_FAILURE = 1;
const EXIT_USAGE = 2;

/** Commands that do not read the database (or, for `db`, bring its schema up to date). */
const COMMANDS_WITHOUT_SCHEMA = new Set(['agents', 'db', 'serve', 'server', 'token']);

/**
 * Only the commands that start a server make a DATA_DIR where there is none; `db migrate` sets up
 * the database in an existing one; the others need the server's data to be there.
 */
function serverData(argv: string[]): LoadOptions['serverData'] {
  if (argv[0] === 'serve' || (argv[0] === 'server' && (argv[1] === 'start' || argv[1] === 'restart'))) return 'create';
  return argv[0] === 'db' ? 'initialize' : 'require';
}

/** `--help` (or a group without its subcommand) needs no server data: it is answered from a scratch directory. */
function asksForHelp(argv: string[]): boolean {
  return argv.includes('--help') || argv.includes('-h') || (argv.length === 1 && argv[0] !== 'serve');
}

/**
 * The modules the command needs: `agents` reads only the agent profiles, and
 * `serve` builds the server's own application, so neither loads the CLI's
 * database layer nor the other commands.
 */
async function commandModule(command: string, config: AppConfig): Promise<DynamicModule> {
  if (command === 'agents') return (await import('./agents-cli.module.js')).AgentsCliModule.forRoot(config);
  if (command === 'serve') return (await import('./serve-cli.module.js')).ServeCliModule.forRoot(config);
  return (await import('./cli.module.js')).CliModule.forRoot(config);
}

function fail(error: unknown): never {
  const exitCode = error instanceof CliError ? error.exitCode : EXIT_FAILURE;
  process.stderr.write(`autocode: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(exitCode);
}

function configurationFor(argv: string[]): AppConfig {
  if (asksForHelp(argv)) {
    const scratch = mkdtempSync(join(tmpdir(), 'autocode-help-'));
    process.on('exit', () => rmSync(scratch, { recursive: true, force: true }));
    return loadConfiguration({ ...process.env, DATA_DIR: scratch, DATABASE_URL: '', JWT_SECRET: 'x'.repeat(32) });
  }
  return loadConfiguration(process.env, { serverData: serverData(argv) });
}

/**
 * The commands that administer this machine's server through its DATA_DIR and database: the
 * server's own modules in a nest-commander application (no HTTP, no dispatcher).
 */
async function runAdmin(argv: string[]): Promise<void> {
  const loaded = configurationFor(argv);
  const command = argv[0] ?? '';
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
  if (!asksForHelp(argv) && !COMMANDS_WITHOUT_SCHEMA.has(command) && (await schemaIsBehind(app))) {
    throw new CliError('the database schema is not current: run `autocode db migrate` (the server also applies it when it starts)');
  }
  await CommandFactory.runApplication(app);
  await app.close();
}

async function schemaIsBehind(app: INestApplicationContext): Promise<boolean> {
  const { DatabaseService } = await import('../database/database.service.js');
  return app.get(DatabaseService).dataSource.showMigrations();
}

export async function administer(argv: string[]): Promise<void> {
  try {
    await runAdmin(argv);
  } catch (error) {
    if (error instanceof CliError) fail(error);
    exitWithStartupError(error);
  }
}

