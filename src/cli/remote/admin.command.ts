import type { components } from '@autocode/client';
import { Command, InvalidArgumentError, Option } from 'commander';
import { budgetLine, budgetOverrideValue, describeUserQuota, overrideValue, USER_COLUMNS, userRow, CLEAR, type Setting } from '../../quota/quota-format.js';
import type { UserQuotaView } from '../../quota/quota.view.js';
import { CliError, printJson, printTable } from '../../common/cli-output.js';
import { connect } from './connection.js';
import { EXIT } from './exit-codes.js';
import { errorOf } from './runs.command.js';
import { contextOption } from './run.command.js';

// `agents`, `users` and `quota` when a server is configured: the same commands as on the server's
// machine, answered by the server's API instead of its database.

type UpdateQuota = components['schemas']['UpdateQuotaDto'];
const TIERS = ['free', 'standard', 'premium'];

async function users(context: string | undefined): Promise<UserQuotaView[]> {
  const answer = await connect(context).client.GET('/api/v1/admin/users');
  if (!answer.response.ok || !answer.data) throw errorOf(answer);
  return answer.data.items as UserQuotaView[];
}

function agentsCommand(): Command {
  const list = new Command('list')
    .description('agent profiles the server offers')
    .option('--json', 'print JSON')
    .addOption(contextOption())
    .action(async (options: { context?: string; json?: boolean }) => {
      const answer = await connect(options.context).client.GET('/api/v1/agents');
      if (!answer.response.ok || !answer.data) throw errorOf(answer);
      if (options.json) return printJson(answer.data);
      printTable(
        answer.data.items.map((agent) => ({
          name: agent.default ? `${agent.name} *` : agent.name,
          executor: agent.executor,
          sandboxed: agent.sandboxed ? 'yes' : 'no',
          description: agent.description,
        })),
        ['name', 'executor', 'sandboxed', 'description'],
      );
    });
  return new Command('agents').description('agent profiles').addCommand(list);
}

function usersCommand(): Command {
  const list = new Command('list')
    .description('users with their tier and usage (admin token)')
    .option('--json', 'print JSON')
    .addOption(contextOption())
    .action(async (options: { context?: string; json?: boolean }) => {
      const items = await users(options.context);
      if (options.json) return printJson({ items });
      printTable(items.map(userRow), USER_COLUMNS);
    });
  return new Command('users').description('users').addCommand(list);
}

function setting(parse: (value: string) => Setting<number>) {
  return (value: string): Setting<number> => {
    try {
      return parse(value);
    } catch (error) {
      throw new InvalidArgumentError((error as Error).message);
    }
  };
}

function quotaCommand(): Command {
  const show = new Command('show')
    .description("a user's limits and usage (admin token); your own without --user")
    .option('--user <id>', 'the user')
    .option('--json', 'print JSON')
    .addOption(contextOption())
    .action(async (options: { context?: string; json?: boolean; user?: string }) => {
      if (options.user === undefined) {
        const own = await connect(options.context).client.getQuota();
        if (options.json) return printJson(own);
        process.stdout.write(`tier        ${own.tier}\nconcurrent  ${own.concurrent.used}/${own.concurrent.limit}\nqueued      ${own.queued.used}/${own.queued.limit}\ndaily       ${own.daily.used}/${own.daily.limit}, resets ${own.daily.resetsAt}\nmax run     ${own.maxRunSeconds}s\nbudget      ${budgetLine(own.budget)}\n`);
        return;
      }
      const view = (await users(options.context)).find((user) => user.userId === options.user);
      if (!view) throw new CliError(`there is no user ${options.user}`);
      if (options.json) return printJson(view);
      process.stdout.write(describeUserQuota(view));
    });
  const set = new Command('set')
    .description('set or clear ("default") quota overrides of a user (admin token)')
    .option('--user <id>', 'the user (required)')
    .addOption(new Option('--tier <tier>', 'free, standard, premium, or default').choices([...TIERS, CLEAR]))
    .option('--concurrent <n>', 'runs running at once', setting((v) => overrideValue(v, '--concurrent', 0)))
    .option('--daily <n>', 'runs per UTC day', setting((v) => overrideValue(v, '--daily', 0)))
    .option('--queued <n>', 'runs waiting at once', setting((v) => overrideValue(v, '--queued', 0)))
    .option('--max-run-seconds <n>', 'longest run timeout allowed', setting((v) => overrideValue(v, '--max-run-seconds', 1)))
    .option('--daily-budget-usd <usd>', 'dollars the runs may spend per UTC day', setting((v) => budgetOverrideValue(v, '--daily-budget-usd')))
    .addOption(contextOption())
    .action(async (options: { context?: string; user?: string } & Record<string, Setting<number> | string | undefined>) => {
      const { context, user, ...settings } = options;
      if (user === undefined) throw new CliError("required option '--user <id>' not specified", EXIT.usage);
      if (Object.keys(settings).length === 0) throw new CliError('nothing to set: give --tier, --concurrent, --daily, --queued, --max-run-seconds or --daily-budget-usd', EXIT.usage);
      const body = Object.fromEntries(Object.entries(settings).map(([key, value]) => [key, value === CLEAR ? null : value])) as UpdateQuota;
      const answer = await connect(context).client.PUT('/api/v1/admin/users/{id}/quota', { params: { path: { id: user } }, body });
      if (!answer.response.ok || !answer.data) throw errorOf(answer);
      process.stdout.write(describeUserQuota(answer.data as UserQuotaView));
    });
  return new Command('quota').description('quotas: yours, or any user\'s (admin token)').addCommand(show).addCommand(set);
}

/** The remote forms of the commands that administer the local DATA_DIR when no server is configured. */
export function remoteAdminCommands(): Command[] {
  return [agentsCommand(), usersCommand(), quotaCommand()];
}
