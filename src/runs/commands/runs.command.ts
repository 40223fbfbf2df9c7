import { Command, CommandRunner, Option, SubCommand } from 'nest-commander';
import { setTimeout as sleep } from 'node:timers/promises';
import { CliError, parsePositiveInt, printJson, printTable } from '../../common/cli-output.js';
import { ProblemError } from '../../common/problem.js';
import { isFinal, RUN_STATUSES, type RunStatus } from '../entities/run.entity.js';
import { RunEventsService } from '../run-events.service.js';
import { logLine, RunsService } from '../runs.service.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const FOLLOW_POLL_MS = 500;

function runId(args: string[]): string {
  const id = args[0];
  if (!id || !UUID.test(id)) throw new CliError('a run id (UUID) is required', 2);
  return id;
}

/** Turns "not found" and "already finished" into one-line CLI failures. */
async function asCli<T>(work: Promise<T>): Promise<T> {
  try {
    return await work;
  } catch (error) {
    if (error instanceof ProblemError) throw new CliError(error.detail);
    throw error;
  }
}

interface ListOptions {
  user?: string;
  status?: RunStatus;
  agent?: string;
  limit?: number;
  json?: boolean;
}

@SubCommand({ name: 'list', description: "every user's runs, newest first" })
export class RunsListCommand extends CommandRunner {
  constructor(private readonly runs: RunsService) {
    super();
  }

  async run(_args: string[], options: ListOptions): Promise<void> {
    const page = await this.runs.list('all', { userId: options.user, status: options.status, agent: options.agent, limit: options.limit ?? 50 });
    if (options.json) return printJson(page);
    printTable(
      page.items.map((run) => ({
        id: run.id,
        user: run.userId,
        agent: run.agent,
        status: run.status,
        created: run.createdAt,
        duration: run.durationMs === null ? '' : `${(run.durationMs / 1000).toFixed(1)}s`,
      })),
      ['id', 'user', 'agent', 'status', 'created', 'duration'],
    );
  }

  @Option({ flags: '--user <id>', description: 'only this user' })
  parseUser(value: string): string {
    return value;
  }

  @Option({ flags: '--status <status>', description: `one of ${RUN_STATUSES.join(', ')}` })
  parseStatus(value: string): RunStatus {
    if (!RUN_STATUSES.includes(value as RunStatus)) throw new CliError(`--status must be one of ${RUN_STATUSES.join(', ')}`, 2);
    return value as RunStatus;
  }

  @Option({ flags: '--agent <name>', description: 'only this agent profile' })
  parseAgent(value: string): string {
    return value;
  }

  @Option({ flags: '--limit <n>', description: 'at most this many (1-100, default 50)' })
  parseLimit(value: string): number {
    const limit = parsePositiveInt(value, '--limit');
    if (limit > 100) throw new CliError('--limit must be at most 100', 2);
    return limit;
  }

  @Option({ flags: '--json', description: 'print JSON' })
  parseJson(): boolean {
    return true;
  }
}

@SubCommand({ name: 'show', arguments: '<id>', description: 'one run, as JSON' })
export class RunsShowCommand extends CommandRunner {
  constructor(private readonly runs: RunsService) {
    super();
  }

  async run(args: string[]): Promise<void> {
    printJson(await asCli(this.runs.get('all', runId(args))));
  }
}

@SubCommand({ name: 'cancel', arguments: '<id>', description: 'cancel a queued or running run' })
export class RunsCancelCommand extends CommandRunner {
  constructor(private readonly runs: RunsService) {
    super();
  }

  async run(args: string[]): Promise<void> {
    const run = await asCli(this.runs.cancel('all', runId(args)));
    process.stdout.write(
      run.status === 'cancelled' ? `cancelled ${run.id}\n` : `cancellation requested for ${run.id}; the server ends it within seconds\n`,
    );
  }
}

@SubCommand({ name: 'logs', arguments: '<id>', description: "a run's log; -f follows it until the run ends" })
export class RunsLogsCommand extends CommandRunner {
  constructor(
    private readonly runs: RunsService,
    private readonly events: RunEventsService,
  ) {
    super();
  }

  async run(args: string[], options: { follow?: boolean }): Promise<void> {
    const id = runId(args);
    await asCli(this.runs.find('all', id));
    if (!options.follow) {
      for await (const chunk of this.runs.log(id)) process.stdout.write(chunk);
      return;
    }
    for (let after = 0; ; ) {
      const page = await this.events.list(id, after, 1000);
      for (const event of page) {
        const line = logLine(event);
        if (line !== null) process.stdout.write(line.endsWith('\n') ? line : line + '\n');
        if (event.type === 'status' && isFinal(event.data.status as RunStatus)) return;
        after = event.seq;
      }
      if (page.length === 0) await sleep(FOLLOW_POLL_MS);
    }
  }

  @Option({ flags: '-f, --follow', description: 'keep printing until the run ends' })
  parseFollow(): boolean {
    return true;
  }
}

@Command({
  name: 'runs',
  description: 'runs of every user',
  subCommands: [RunsListCommand, RunsShowCommand, RunsCancelCommand, RunsLogsCommand],
})
export class RunsCommand extends CommandRunner {
  async run(): Promise<void> {
    this.command.help();
  }
}
