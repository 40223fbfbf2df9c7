import { Command, CommandRunner, Option, SubCommand } from 'nest-commander';
import { CliError, printJson, printTable } from '../../common/cli-output.js';
import type { Tier } from '../../config/configuration.js';
import { QuotaService, type QuotaChange } from '../quota.service.js';
import { budgetOverrideValue, CLEAR, describeUserQuota, overrideValue, USER_COLUMNS, userRow, type Setting } from '../quota-format.js';
import { isTier } from '../tiers.js';

function requireUser(user: string | undefined): string {
  if (!user) throw new CliError('--user ID is required', 2);
  return user;
}

@SubCommand({ name: 'list', description: 'users with their tier and usage' })
export class UsersListCommand extends CommandRunner {
  constructor(private readonly quota: QuotaService) {
    super();
  }

  async run(_args: string[], options: { json?: boolean }): Promise<void> {
    const users = await this.quota.listUsers();
    if (options.json) return printJson({ items: users });
    printTable(users.map(userRow), USER_COLUMNS);
  }

  @Option({ flags: '--json', description: 'print JSON' })
  parseJson(): boolean {
    return true;
  }
}

@Command({ name: 'users', description: 'users', subCommands: [UsersListCommand] })
export class UsersCommand extends CommandRunner {
  async run(): Promise<void> {
    this.command.help();
  }
}

@SubCommand({ name: 'show', description: "a user's limits and usage" })
export class QuotaShowCommand extends CommandRunner {
  constructor(private readonly quota: QuotaService) {
    super();
  }

  async run(_args: string[], options: { user?: string; json?: boolean }): Promise<void> {
    const userId = requireUser(options.user);
    const view = (await this.quota.listUsers()).find((user) => user.userId === userId);
    if (!view) throw new CliError(`there is no user ${userId}`);
    if (options.json) return printJson(view);
    process.stdout.write(describeUserQuota(view));
  }

  @Option({ flags: '--user <id>', description: 'the user', required: true })
  parseUser(value: string): string {
    return value;
  }

  @Option({ flags: '--json', description: 'print JSON' })
  parseJson(): boolean {
    return true;
  }
}

interface QuotaSetOptions {
  user?: string;
  tier?: Setting<Tier>;
  concurrent?: Setting<number>;
  daily?: Setting<number>;
  queued?: Setting<number>;
  maxRunSeconds?: Setting<number>;
  dailyBudgetUsd?: Setting<number>;
}

@SubCommand({ name: 'set', description: 'set or clear ("default") quota overrides of a user' })
export class QuotaSetCommand extends CommandRunner {
  constructor(private readonly quota: QuotaService) {
    super();
  }

  async run(_args: string[], options: QuotaSetOptions): Promise<void> {
    const { user, ...settings } = options;
    if (Object.keys(settings).length === 0) throw new CliError('nothing to set: give --tier, --concurrent, --daily, --queued, --max-run-seconds or --daily-budget-usd', 2);
    const change = Object.fromEntries(Object.entries(settings).map(([key, value]) => [key, value === CLEAR ? null : value])) as QuotaChange;
    process.stdout.write(describeUserQuota(await this.quota.change(requireUser(user), change)));
  }

  @Option({ flags: '--user <id>', description: 'the user', required: true })
  parseUser(value: string): string {
    return value;
  }

  @Option({ flags: '--tier <tier>', description: 'free, standard, premium, or default' })
  parseTier(value: string): Setting<Tier> {
    if (value === CLEAR || value === 'none') return CLEAR;
    if (!isTier(value)) throw new CliError('--tier must be free, standard, premium or default', 2);
    return value;
  }

  @Option({ flags: '--concurrent <n>', description: 'runs running at once' })
  parseConcurrent(value: string): Setting<number> {
    return overrideValue(value, '--concurrent', 0);
  }

  @Option({ flags: '--daily <n>', description: 'runs per UTC day' })
  parseDaily(value: string): Setting<number> {
    return overrideValue(value, '--daily', 0);
  }

  @Option({ flags: '--queued <n>', description: 'runs waiting at once' })
  parseQueued(value: string): Setting<number> {
    return overrideValue(value, '--queued', 0);
  }

  @Option({ flags: '--max-run-seconds <n>', description: 'longest run timeout allowed' })
  parseMaxRunSeconds(value: string): Setting<number> {
    return overrideValue(value, '--max-run-seconds', 1);
  }

  @Option({ flags: '--daily-budget-usd <usd>', description: 'dollars the runs may spend per UTC day' })
  parseDailyBudgetUsd(value: string): Setting<number> {
    return budgetOverrideValue(value, '--daily-budget-usd');
  }
}

@Command({ name: 'quota', description: 'per-user quotas', subCommands: [QuotaShowCommand, QuotaSetCommand] })
export class QuotaCommand extends CommandRunner {
  async run(): Promise<void> {
    this.command.help();
  }
}
