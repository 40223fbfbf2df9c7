import { Command, CommandRunner, Option, SubCommand } from 'nest-commander';
import { CliError, printJson, printTable } from '../../cli/output.js';
import type { Tier } from '../../config/configuration.js';
import { QuotaService, type QuotaChange } from '../quota.service.js';
import type { UserQuotaView } from '../quota.view.js';
import { isTier } from '../tiers.js';

/** Marks an override to clear; commander would replace a parser's `null` by the raw text. */
const CLEAR = 'default';
type Setting<T> = T | typeof CLEAR;

/** `--daily 100` sets an override; `--daily default` clears it back to the tier's figure. */
function overrideValue(value: string, flag: string, min: number): Setting<number> {
  if (value === CLEAR || value === 'none') return CLEAR;
  if (!/^\d+$/.test(value) || Number(value) < min) {
    throw new CliError(`${flag} takes a whole number${min > 0 ? ` of at least ${min}` : ''}, or "default" to clear the override`, 2);
  }
  return Number(value);
}

function requireUser(user: string | undefined): string {
  if (!user) throw new CliError('--user ID is required', 2);
  return user;
}

function describe(view: UserQuotaView): string {
  const mark = (key: keyof UserQuotaView['overrides']): string => (view.overrides[key] !== null ? ' (override)' : '');
  return [
    `user        ${view.userId}${view.role === 'admin' ? ' (admin)' : ''}`,
    `tier        ${view.tier}${mark('tier')}`,
    `concurrent  ${view.concurrent.used}/${view.concurrent.limit}${mark('concurrent')}`,
    `queued      ${view.queued.used}/${view.queued.limit}${mark('queued')}`,
    `daily       ${view.daily.used}/${view.daily.limit}${mark('daily')}, resets ${view.daily.resetsAt}`,
    `max run     ${view.maxRunSeconds}s${mark('maxRunSeconds')}`,
  ].join('\n') + '\n';
}

@SubCommand({ name: 'list', description: 'users with their tier and usage' })
export class UsersListCommand extends CommandRunner {
  constructor(private readonly quota: QuotaService) {
    super();
  }

  async run(_args: string[], options: { json?: boolean }): Promise<void> {
    const users = await this.quota.listUsers();
    if (options.json) return printJson({ items: users });
    printTable(
      users.map((user) => ({
        user: user.userId,
        role: user.role,
        tier: user.tier,
        running: `${user.concurrent.used}/${user.concurrent.limit}`,
        queued: `${user.queued.used}/${user.queued.limit}`,
        today: `${user.daily.used}/${user.daily.limit}`,
        'last seen': user.lastSeenAt,
      })),
      ['user', 'role', 'tier', 'running', 'queued', 'today', 'last seen'],
    );
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
    process.stdout.write(describe(view));
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
}

@SubCommand({ name: 'set', description: 'set or clear ("default") quota overrides of a user' })
export class QuotaSetCommand extends CommandRunner {
  constructor(private readonly quota: QuotaService) {
    super();
  }

  async run(_args: string[], options: QuotaSetOptions): Promise<void> {
    const { user, ...settings } = options;
    if (Object.keys(settings).length === 0) throw new CliError('nothing to set: give --tier, --concurrent, --daily, --queued or --max-run-seconds', 2);
    const change = Object.fromEntries(Object.entries(settings).map(([key, value]) => [key, value === CLEAR ? null : value])) as QuotaChange;
    process.stdout.write(describe(await this.quota.change(requireUser(user), change)));
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
}

@Command({ name: 'quota', description: 'per-user quotas', subCommands: [QuotaShowCommand, QuotaSetCommand] })
export class QuotaCommand extends CommandRunner {
  async run(): Promise<void> {
    this.command.help();
  }
}
