import type { AutocodeClient, Run, SubmitRunBody } from '@autocode/client';
import { Command, Option } from 'commander';
import { CliError } from '../../common/cli-output.js';
import { connect, dollars, keyValue, positiveInteger, readStdin, runIdArgument } from './connection.js';
import { EXIT, EXIT_CODES_HELP } from './exit-codes.js';
import { approvalsMode, followToEnd } from './follow.js';
import { outputMode, RunPrinter } from './render.js';

interface RunOptions {
  agent?: string;
  workspace?: string;
  spec?: string;
  timeout?: number;
  maxBudgetUsd?: number;
  model?: string;
  metadata?: Record<string, string>;
  idempotencyKey?: string;
  detach?: boolean;
  json?: boolean;
  diff?: string;
  pr?: boolean;
  prDraft?: boolean;
  prBase?: string;
  continue?: string;
  approveAll?: boolean;
  reconnectSeconds: number;
  context?: string;
}

/** What a follow-up takes from the run it continues, so these may not be given with --continue. */
const SET_BY_THE_PARENT: [keyof RunOptions, string][] = [
  ['agent', '--agent'],
  ['workspace', '--workspace'],
  ['spec', '--spec'],
  ['timeout', '--timeout'],
  ['maxBudgetUsd', '--max-budget-usd'],
  ['model', '--model'],
  ['metadata', '--metadata'],
  ['idempotencyKey', '--idempotency-key'],
  ['pr', '--pr'],
];

export function contextOption(): Option {
  return new Option('--context <name>', 'the saved server context to use (default: the one `login` chose last; AUTOCODE_CONTEXT)');
}

export function reconnectOption(): Option {
  return new Option('--reconnect-seconds <s>', 'how long to go on reconnecting a lost event stream').argParser(positiveInteger).default(300);
}

export function runCommand(): Command {
  return new Command('run')
    .description("submit a run to the server, follow it live, exit with its outcome")
    .argument('[prompt]', 'what the agent should do; - reads it from stdin')
    .option('--agent <name>', 'agent profile (`autocode agents list`; default: the server\'s default)')
    .option('--workspace <name>', 'named workspace to run in (changes land on branch autocode/<run id>)')
    .option('--spec <id>', 'a spec of the workspace, instead of or besides the prompt')
    .addOption(new Option('--timeout <seconds>', 'stop the agent after this long').argParser(positiveInteger))
    .addOption(new Option('--max-budget-usd <usd>', "stop a claude agent once it has spent this much (at most your daily budget)").argParser(dollars))
    .option('--model <model>', 'model for the agent')
    .option('--metadata <key=value>', 'metadata returned with the run (repeatable)', keyValue)
    .option('--idempotency-key <key>', 'a retried submit with the same key and body answers the first run')
    .option('--detach', 'print the run id and exit 0 at once')
    .option('--json', 'one JSON object per event on stdout, then the final run')
    .option('--diff <file>', "write the run's diff to this file at the end")
    .option('--pr', 'once the run succeeds with changes, push its branch and open a pull request (the workspace needs a forge and a credential)')
    .option('--pr-draft', 'with --pr: open it as a draft')
    .option('--pr-base <branch>', 'with --pr: the branch to merge into (default: the one the workspace has checked out)')
    .addOption(new Option('--continue <run-id>', 'send the prompt to this run: into its session while it runs, or as a follow-up run that resumes it once it has finished').argParser(runIdArgument))
    .option('--approve-all', 'allow every tool call the agent asks approval for (CI); without it a terminal asks you, and elsewhere the command says how to decide')
    .addOption(reconnectOption())
    .addOption(contextOption())
    .addHelpText(
      'after',
      `
The agent's stdout goes to stdout and its stderr to stderr; status changes, tool uses and the
summary go to stderr. Ctrl-C (or SIGTERM) cancels the run, waits for its end and exits 130; a
second Ctrl-C leaves at once and leaves the run alone.

${EXIT_CODES_HELP}

Examples:
  autocode run --agent claude --workspace app "fix the failing test"
  git diff HEAD~1 | autocode run --workspace app --diff review.patch -
  autocode run --detach --json "update the changelog"
  autocode run --workspace app --pr --pr-base develop "add a CHANGELOG entry"
  autocode run --continue 0193f1c2-… "also update the docs"
  autocode run --agent gated --approve-all "run the migration"`,
    )
    .action(async (prompt: string | undefined, options: RunOptions) => {
      process.exitCode = await run(prompt, options);
    });
}

async function run(promptArgument: string | undefined, options: RunOptions): Promise<number> {
  const prompt = promptArgument === '-' ? (await readStdin()).replace(/\n$/, '') : promptArgument;
  if ((prompt === undefined || prompt === '') && options.spec === undefined) {
    throw new CliError('a prompt is required: `autocode run "PROMPT"`, `autocode run -` to read it from stdin, or --spec ID', EXIT.usage);
  }
  if ((options.prDraft || options.prBase !== undefined) && !options.pr) throw new CliError('--pr-draft and --pr-base go with --pr', EXIT.usage);
  if (options.pr && options.workspace === undefined) throw new CliError('--pr needs --workspace: a pull request proposes the run\'s branch of a named workspace', EXIT.usage);
  if (options.continue !== undefined) return continueRun(options.continue, prompt, options);
  const { client } = connect(options.context);
  const body: SubmitRunBody = {
    ...(prompt ? { prompt } : {}),
    ...(options.agent !== undefined && { agent: options.agent }),
    ...(options.workspace !== undefined && { workspace: options.workspace }),
    ...(options.spec !== undefined && { specId: options.spec }),
    ...(options.timeout !== undefined && { timeoutSeconds: options.timeout }),
    ...(options.maxBudgetUsd !== undefined && { maxBudgetUsd: options.maxBudgetUsd }),
    ...(options.model !== undefined && { model: options.model }),
    ...(options.metadata !== undefined && { metadata: options.metadata }),
    ...(options.pr && { pullRequest: { open: true, ...(options.prDraft && { draft: true }), ...(options.prBase !== undefined && { base: options.prBase }) } }),
  };
  const submitted = await client.submitRun(body, options.idempotencyKey === undefined ? {} : { idempotencyKey: options.idempotencyKey });
  if (options.detach) return printDetached(submitted, options.json);
  const printer = new RunPrinter(outputMode(options.json));
  printer.note(`run ${submitted.id} · agent ${submitted.agent}${submitted.workspace ? ` · workspace ${submitted.workspace}` : ''}`);
  const outcome = await followLive(client, submitted.id, printer, options);
  if (!options.pr || outcome !== EXIT.succeeded) return outcome;
  return awaitPullRequest(client, submitted.id, printer);
}

/**
 * `run --continue ID`: the prompt goes to the run (`POST /runs/:id/messages`). A running run takes it
 * into its session and is followed (from its first event) to its end; a finished one answers with a
 * follow-up run, which is followed like a new submit.
 */
async function continueRun(runId: string, prompt: string | undefined, options: RunOptions): Promise<number> {
  if (prompt === undefined || prompt === '') throw new CliError('--continue needs a prompt: `autocode run --continue ID "PROMPT"` (or - for stdin)', EXIT.usage);
  const taken = SET_BY_THE_PARENT.filter(([name]) => options[name] !== undefined).map(([, flag]) => flag);
  if (taken.length > 0) throw new CliError(`${taken.join(', ')} cannot go with --continue: a follow-up runs as the run it continues`, EXIT.usage);
  const { client } = connect(options.context);
  const answered = await client.sendMessage(runId, prompt);
  if (options.detach) return printDetached(answered, options.json);
  const printer = new RunPrinter(outputMode(options.json));
  printer.note(answered.id === runId ? `message sent to run ${runId}, which is running` : `run ${answered.id} · follows up ${runId} · agent ${answered.agent}`);
  return followLive(client, answered.id, printer, options);
}

/** Follows a run as `run` shows it: every event, Ctrl-C cancels it, approvals answered; answers the exit status. */
function followLive(client: AutocodeClient, runId: string, printer: RunPrinter, options: RunOptions): Promise<number> {
  return followToEnd({
    client,
    runId,
    printer,
    printEvents: true,
    reconnectSeconds: options.reconnectSeconds,
    diffFile: options.diff,
    cancelOnInterrupt: true,
    approvals: approvalsMode(options.approveAll, options.json),
  });
}

/** `--detach`: the run's id, or the run as JSON, and exit 0 at once. */
function printDetached(run: Run, json: boolean | undefined): number {
  process.stdout.write(json ? JSON.stringify(run) + '\n' : `${run.id}\n`);
  return EXIT.succeeded;
}

/** How long the server may take to push and open the pull request after the run's end. */
const PULL_REQUEST_WAIT_MS = 120_000;

/** Waits for the pull request the server opens once the run succeeded; 1 when it could not open it. */
async function awaitPullRequest(client: AutocodeClient, runId: string, printer: RunPrinter): Promise<number> {
  if ((await client.getDiff(runId)) === '') {
    printer.note('the run changed nothing: no pull request');
    return EXIT.succeeded;
  }
  const deadline = Date.now() + PULL_REQUEST_WAIT_MS;
  for (;;) {
    const run = await client.getRun(runId);
    if (run.pullRequest) {
      printer.note(`pull request ${run.pullRequest.url}${run.pullRequest.draft ? ' (draft)' : ''}`);
      return EXIT.succeeded;
    }
    if (run.pullRequestError) {
      printer.note(`no pull request: ${run.pullRequestError.message} (${run.pullRequestError.code}); retry with \`autocode runs pr ${runId}\``);
      return EXIT.failed;
    }
    if (Date.now() > deadline) {
      printer.note(`no pull request after ${PULL_REQUEST_WAIT_MS / 1000} s; see \`autocode runs show ${runId}\``);
      return EXIT.failed;
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}
