import { Command, Option } from 'commander';
import { budgetLine } from '../../quota/quota-format.js';
import { CliError, printJson } from '../../common/cli-output.js';
import { clientFor, readStdin } from './connection.js';
import { contextFilePath, DEFAULT_CONTEXT, normalizeServer, readContextFile, resolveContext, writeContextFile } from './contexts.js';
import { EXIT } from './exit-codes.js';
import { contextOption } from './run.command.js';

/** The token's claims, read without checking its signature: only to say who it names (the server checks it). */
function claimsOf(token: string): { sub?: string; role?: string; exp?: number } {
  try {
    return JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8')) as Record<string, never>;
  } catch {
    return {};
  }
}

function loginCommand(): Command {
  return new Command('login')
    .description('save a server and token as a named context, after checking them against the server')
    .requiredOption('--server <url>', 'the server, e.g. https://autocode.example.com')
    .option('--token <token>', 'the bearer token (visible in `ps` and shell history: prefer --token-stdin)')
    .option('--token-stdin', 'read the token from stdin')
    .addOption(new Option('--context <name>', 'the name to save it under').default(DEFAULT_CONTEXT))
    .action(async (options: { server: string; token?: string; tokenStdin?: boolean; context: string }) => {
      if ((options.token === undefined) === (options.tokenStdin !== true)) {
        throw new CliError('give the token with exactly one of --token T and --token-stdin', EXIT.usage);
      }
      const token = (options.token ?? (await readStdin())).trim();
      if (token === '') throw new CliError('the token is empty', EXIT.usage);
      const server = normalizeServer(options.server);
      // A wrong URL or token fails here, not at the first run.
      await clientFor(server, token).getQuota();
      const file = readContextFile();
      file.contexts[options.context] = { server, token };
      file.current = options.context;
      writeContextFile(file);
      const user = claimsOf(token).sub;
      process.stdout.write(`logged in to ${server}${user ? ` as ${user}` : ''} (context "${options.context}", saved in ${contextFilePath()})\n`);
    });
}

function logoutCommand(): Command {
  return new Command('logout')
    .description('forget a saved context and its token')
    .addOption(contextOption())
    .action((options: { context?: string }) => {
      const file = readContextFile();
      const name = options.context ?? file.current ?? DEFAULT_CONTEXT;
      if (!file.contexts[name]) throw new CliError(`no context named "${name}" is saved`);
      delete file.contexts[name];
      if (file.current === name) file.current = Object.keys(file.contexts)[0] ?? null;
      writeContextFile(file);
      process.stdout.write(`logged out of context "${name}"${file.current ? `; context "${file.current}" is now in use` : ''}\n`);
    });
}

function whoamiCommand(): Command {
  return new Command('whoami')
    .description('the user, tier and quota usage the server sees for this token')
    .option('--json', 'print JSON')
    .addOption(contextOption())
    .action(async (options: { context?: string; json?: boolean }) => {
      const { server, token } = resolveContext(options.context);
      const quota = await clientFor(server, token).getQuota();
      const claims = claimsOf(token);
      const role = claims.role === 'admin' ? 'admin' : 'user';
      if (options.json) return printJson({ server, user: claims.sub ?? null, role, quota });
      const expires = claims.exp ? `, token expires ${new Date(claims.exp * 1000).toISOString()}` : '';
      process.stdout.write(
        [
          `user:       ${claims.sub ?? '(unknown)'} (${role}${expires})`,
          `server:     ${server}`,
          `tier:       ${quota.tier}`,
          `running:    ${quota.concurrent.used} of ${quota.concurrent.limit}`,
          `queued:     ${quota.queued.used} of ${quota.queued.limit}`,
          `today:      ${quota.daily.used} of ${quota.daily.limit} runs (resets ${quota.daily.resetsAt})`,
          `max run:    ${quota.maxRunSeconds} s`,
          `budget:     ${budgetLine(quota.budget)} (estimated)`,
        ].join('\n') + '\n',
      );
    });
}

export function sessionCommands(): Command[] {
  return [loginCommand(), logoutCommand(), whoamiCommand()];
}
