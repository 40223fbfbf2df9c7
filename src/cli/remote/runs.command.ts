import { writeFileSync } from 'node:fs';
import { AutocodeError, type Run } from '@autocode/client';
import { Command, Option } from 'commander';
import { printJson, printTable } from '../../common/cli-output.js';
import { connect, positiveInteger, readStdin, runIdArgument } from './connection.js';
import { EXIT_CODES_HELP, exitCodeOfStatus } from './exit-codes.js';
import { followToEnd } from './follow.js';
import { costOf, formatDuration, outputMode, RunPrinter } from './render.js';
import { contextOption, reconnectOption } from './run.command.js';

const RUN_STATUSES = ['queued', 'running', 'succeeded', 'failed', 'cancelled', 'timed_out', 'interrupted'];

interface Common {
  context?: string;
  json?: boolean;
}

function rowOf(run: Run, withUser: boolean): Record<string, string> {
  return {
    id: run.id,
    ...(withUser && { user: run.userId }),
    agent: run.agent,
    status: run.status,
    created: run.createdAt,
    duration: run.durationMs === null ? '' : formatDuration(run.durationMs),
    prompt: run.prompt.replace(/\s+/g, ' ').slice(0, 40),
  };
}

function listCommand(): Command {
  return new Command('list')
    .description('runs, newest first (yours; every user\'s with --all or --user, for admins)')
    .addOption(new Option('--status <status>', 'only runs in this status').choices(RUN_STATUSES))
    .option('--agent <name>', 'only runs of this agent profile')
    .addOption(new Option('--limit <n>', 'at most this many').argParser(positiveInteger).default(50))
    .option('--all', "every user's runs (admin token)")
    .option('--user <id>', "this user's runs (admin token)")
    .option('--json', 'print JSON')
    .addOption(contextOption())
    .action(async (options: Common & { status?: Run['status']; agent?: string; limit: number; all?: boolean; user?: string }) => {
      const { client } = connect(options.context);
      const query = { limit: Math.min(options.limit, 100), ...(options.status && { status: options.status }), ...(options.agent && { agent: options.agent }) };
      const admin = options.all === true || options.user !== undefined;
      const items: Run[] = [];
      let cursor: string | undefined;
      do {
        const answer = admin
          ? await client.GET('/api/v1/admin/runs', { params: { query: { ...query, cursor, ...(options.user && { userId: options.user }) } } })
          : await client.GET('/api/v1/runs', { params: { query: { ...query, cursor } } });
        if (!answer.response.ok || !answer.data) throw errorOf(answer);
        items.push(...answer.data.items);
        cursor = answer.data.nextCursor ?? undefined;
      } while (cursor !== undefined && items.length < options.limit);
      const runs = items.slice(0, options.limit);
      if (options.json) return printJson({ items: runs });
      printTable(
        runs.map((run) => rowOf(run, admin)),
        admin ? ['id', 'user', 'agent', 'status', 'created', 'duration', 'prompt'] : ['id', 'agent', 'status', 'created', 'duration', 'prompt'],
      );
    });
}

/** The typed error of an answer the low-level client returned unwrapped. */
export function errorOf(answer: { error?: unknown; response: Response }): AutocodeError {
  return AutocodeError.fromResponse(answer.response, answer.error);
}

function showCommand(): Command {
  return new Command('show')
    .description('one run: status, times, result, error')
    .argument('<id>', 'run id', runIdArgument)
    .option('--json', 'print JSON')
    .addOption(contextOption())
    .action(async (id: string, options: Common) => {
      const run = await connect(options.context).client.getRun(id);
      if (options.json) return printJson(run);
      const lines: [string, string | null][] = [
        ['id', run.id],
        ['status', run.status + (run.error ? ` (${run.error.code}: ${run.error.message})` : '')],
        ['agent', run.agent],
        ['user', run.userId],
        ['workspace', run.workspace],
        ['node', run.node],
        ['created', run.createdAt],
        ['started', run.startedAt],
        ['finished', run.finishedAt],
        ['duration', run.durationMs === null ? null : formatDuration(run.durationMs)],
        ['exit code', run.exitCode === null ? null : String(run.exitCode)],
        ['cost', costOf(run)],
        ['summary', run.result?.summary ?? null],
        ['budget', run.maxBudgetUsd === null ? null : `$${run.maxBudgetUsd}`],
        ['follows', run.parentRunId],
        ['waits on', run.pendingApproval ? `approval of ${run.pendingApproval.tool} until ${run.pendingApproval.expiresAt} (\`autocode runs approve|deny ${run.id} ${run.pendingApproval.approvalId}\`)` : null],
        ['pull req.', run.pullRequest ? `${run.pullRequest.url}${run.pullRequest.draft ? ' (draft)' : ''}` : run.pullRequestError ? `not opened (${run.pullRequestError.code}: ${run.pullRequestError.message})` : null],
        ['prompt', run.prompt],
      ];
      for (const [name, value] of lines) if (value !== null) process.stdout.write(`${(name + ':').padEnd(11)}${value}\n`);
    });
}

function logsCommand(): Command {
  return new Command('logs')
    .description("a run's log; with --follow, its lines as they come until it ends")
    .argument('<id>', 'run id', runIdArgument)
    .option('-f, --follow', 'follow the run live until it ends, then exit with its outcome')
    .option('--json', 'with --follow: one JSON object per event')
    .addOption(reconnectOption())
    .addOption(contextOption())
    .action(async (id: string, options: Common & { follow?: boolean; reconnectSeconds: number }) => {
      const { client } = connect(options.context);
      if (!options.follow) {
        process.stdout.write(await client.getLogs(id));
        return;
      }
      process.exitCode = await followToEnd({
        client,
        runId: id,
        printer: new RunPrinter(outputMode(options.json)),
        printEvents: true,
        reconnectSeconds: options.reconnectSeconds,
        cancelOnInterrupt: false,
      });
    });
}

function cancelCommand(): Command {
  return new Command('cancel')
    .description('stop a queued or running run')
    .argument('<id>', 'run id', runIdArgument)
    .option('--wait', 'wait for its final status and exit with it')
    .option('--json', 'print JSON')
    .addOption(contextOption())
    .action(async (id: string, options: Common & { wait?: boolean }) => {
      const { client } = connect(options.context);
      let run = await client.cancelRun(id);
      if (options.wait) run = await client.waitForRun(id);
      if (options.json) printJson(run);
      else process.stdout.write(`${run.id} ${run.status}${run.status === 'queued' || run.status === 'running' ? ' (cancel requested)' : ''}\n`);
      if (options.wait) process.exitCode = exitCodeOfStatus(run.status);
    });
}

function diffCommand(): Command {
  return new Command('diff')
    .description('the unified diff of what a finished run changed in its workspace')
    .argument('<id>', 'run id', runIdArgument)
    .option('-o, --output <file>', 'write it to this file instead of stdout')
    .addOption(contextOption())
    .action(async (id: string, options: Common & { output?: string }) => {
      const diff = await connect(options.context).client.getDiff(id);
      if (options.output === undefined) process.stdout.write(diff);
      else writeFileSync(options.output, diff);
    });
}

function waitCommand(): Command {
  return new Command('wait')
    .description("wait for a run's end and exit with its outcome (Ctrl-C leaves it running)")
    .argument('<id>', 'run id', runIdArgument)
    .option('--json', 'print the final run as JSON')
    .addOption(reconnectOption())
    .addOption(contextOption())
    .addHelpText('after', `\n${EXIT_CODES_HELP}`)
    .action(async (id: string, options: Common & { reconnectSeconds: number }) => {
      process.exitCode = await followToEnd({
        client: connect(options.context).client,
        runId: id,
        printer: new RunPrinter(outputMode(options.json)),
        printEvents: false,
        reconnectSeconds: options.reconnectSeconds,
        cancelOnInterrupt: false,
      });
    });
}

function pushCommand(): Command {
  return new Command('push')
    .description("push a finished run's branch autocode/<id> to its workspace's repository (with the workspace's stored credential)")
    .argument('<id>', 'run id', runIdArgument)
    .option('--json', 'print JSON')
    .addOption(contextOption())
    .action(async (id: string, options: Common) => {
      const pushed = await connect(options.context).client.pushRun(id);
      if (options.json) return printJson(pushed);
      process.stdout.write(`pushed ${pushed.branch} (${pushed.commit.slice(0, 12)}) to ${pushed.remote}\n`);
    });
}

function pullRequestCommand(): Command {
  return new Command('pr')
    .description("push a finished run's branch if needed and open a pull request (GitHub) or merge request (GitLab) for it")
    .argument('<id>', 'run id', runIdArgument)
    .option('--title <title>', "the title (default: the prompt's first line)")
    .option('--body <text>', 'the description, - to read it from stdin (default: a summary of the run with a link back to it)')
    .option('--base <branch>', 'the branch to merge into (default: the branch the workspace has checked out)')
    .option('--draft', 'open it as a draft')
    .option('--json', 'print JSON')
    .addOption(contextOption())
    .action(async (id: string, options: Common & { title?: string; body?: string; base?: string; draft?: boolean }) => {
      const body = options.body === '-' ? await readStdin() : options.body;
      const opened = await connect(options.context).client.openPullRequest(id, {
        ...(options.title !== undefined && { title: options.title }),
        ...(body !== undefined && { body }),
        ...(options.base !== undefined && { base: options.base }),
        ...(options.draft && { draft: true }),
      });
      if (options.json) return printJson(opened);
      process.stdout.write(`${opened.url}\n`);
    });
}

function decisionCommand(decision: 'allow' | 'deny'): Command {
  const name = decision === 'allow' ? 'approve' : 'deny';
  return new Command(name)
    .description(decision === 'allow' ? 'allow the tool call a run waits on (the run owner or an admin)' : 'deny the tool call a run waits on; the agent reads --message as the reason')
    .argument('<id>', 'run id', runIdArgument)
    .argument('<approval-id>', 'the approval (its `approval_requested` event, or `pendingApproval` of `runs show --json`)')
    .option('--message <text>', decision === 'allow' ? 'a note recorded with the decision' : 'why: the model reads it as the call\'s result')
    .option('--json', 'print the run as JSON')
    .addOption(contextOption())
    .action(async (id: string, approvalId: string, options: Common & { message?: string }) => {
      const run = await connect(options.context).client.decideApproval(id, approvalId, { decision, ...(options.message !== undefined && { message: options.message }) });
      if (options.json) return printJson(run);
      process.stdout.write(`${decision === 'allow' ? 'allowed' : 'denied'}; run ${run.id} is ${run.status}\n`);
    });
}

export function runsCommand(): Command {
  return new Command('runs')
    .description('runs on the server: list, show, logs, cancel, diff, wait, push, pr, approve, deny')
    .addCommand(listCommand())
    .addCommand(showCommand())
    .addCommand(logsCommand())
    .addCommand(cancelCommand())
    .addCommand(diffCommand())
    .addCommand(waitCommand())
    .addCommand(pushCommand())
    .addCommand(pullRequestCommand())
    .addCommand(decisionCommand('allow'))
    .addCommand(decisionCommand('deny'));
}
