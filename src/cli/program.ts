import { Command, CommanderError } from 'commander';
import { remoteAdminCommands } from './remote/admin.command.js';
import { VERSION } from '../metrics/version.js';
import { describeFailure, EXIT, EXIT_CODES_HELP } from './remote/exit-codes.js';
import { runCommand } from './remote/run.command.js';
import { runsCommand } from './remote/runs.command.js';
import { sessionCommands } from './remote/session.command.js';
import { workspacesCommand } from './remote/workspaces.command.js';

/** Commands that always administer this machine's DATA_DIR, with what `--help` says of them. */
const LOCAL_COMMANDS: Record<string, string> = {
  serve: 'run the server in the foreground',
  server: 'the server in the background: start, stop, status, restart, logs',
  token: 'bearer tokens: token create',
  db: 'database maintenance: db migrate',
};

/** Commands that ask the server when one is configured, and administer the local DATA_DIR when not. */
const LOCAL_UNLESS_SERVER: Record<string, string> = {
  agents: 'agent profiles',
  users: 'users',
  quota: 'per-user quotas',
};

const WHERE_COMMANDS_ACT = `
Where commands act:
  login, logout, whoami, run, runs and workspaces talk to a server over HTTP: the context saved by
  \`autocode login\`, or AUTOCODE_SERVER and AUTOCODE_TOKEN, which win (for CI).
  serve, server, db and token administer this machine's server through its DATA_DIR.
  agents, users and quota ask the server when one is configured, else the local DATA_DIR.

${EXIT_CODES_HELP}`;

/** Whether `argv` is for the admin commands, which run on the server's own modules. */
export function isLocal(argv: string[], hasServer: boolean): boolean {
  const command = argv[0] ?? '';
  return command in LOCAL_COMMANDS || (command in LOCAL_UNLESS_SERVER && !hasServer);
}

/** A placeholder that lists a local command in the help; running it hands over to the admin CLI. */
function localCommand(name: string, description: string): Command {
  return new Command(name)
    .description(description)
    .helpOption(false)
    .allowUnknownOption()
    .allowExcessArguments()
    .action(async (_options: unknown, command: Command) => (await import('./admin.js')).administer([name, ...command.args]));
}

export function buildProgram(hasServer: boolean): Command {
  const program = new Command('autocode')
    .description('Auto Code Server: run coding agents headless, from a laptop, a CI job or the server itself')
    .version(VERSION, '-V, --version', 'print the version')
    .helpOption('-h, --help', 'show help')
    .addHelpCommand('help [command]', 'show help for a command')
    .showSuggestionAfterError(true)
    .enablePositionalOptions()
    .addHelpText('after', WHERE_COMMANDS_ACT);
  for (const command of [...sessionCommands(), runCommand(), runsCommand(), workspacesCommand()]) program.addCommand(command);
  if (hasServer) for (const command of remoteAdminCommands()) program.addCommand(command);
  else for (const [name, description] of Object.entries(LOCAL_UNLESS_SERVER)) program.addCommand(localCommand(name, description));
  for (const [name, description] of Object.entries(LOCAL_COMMANDS)) program.addCommand(localCommand(name, description));
  return program;
}

function exitOverrideEverywhere(command: Command): void {
  command.exitOverride();
  command.commands.forEach(exitOverrideEverywhere);
}

/** Runs the remote commands (and the help, version and suggestions of all); answers the exit status. */
export async function runRemote(argv: string[], hasServer: boolean): Promise<number> {
  const program = buildProgram(hasServer);
  exitOverrideEverywhere(program);
  if (argv.length === 0) {
    program.outputHelp();
    return EXIT.succeeded;
  }
  try {
    await program.parseAsync(argv, { from: 'user' });
    return typeof process.exitCode === 'number' ? process.exitCode : EXIT.succeeded;
  } catch (error) {
    if (error instanceof CommanderError) {
      // commander has printed the help, the version or what was wrong.
      const benign = error.code === 'commander.helpDisplayed' || error.code === 'commander.version';
      return benign ? EXIT.succeeded : EXIT.usage;
    }
    const { exitCode, message } = describeFailure(error, process.env.AUTOCODE_SERVER);
    process.stderr.write(`autocode: ${message}\n`);
    return exitCode;
  }
}
