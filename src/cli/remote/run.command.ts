import type { SubmitRunBody } from '@autocode/client';
import { Command, Option } from 'commander';
import { CliError } from '../output.js';
import { connect, keyValue, positiveInteger, readStdin } from './connection.js';
import { EXIT, EXIT_CODES_HELP } from './exit-codes.js';
import { followToEnd } from './follow.js';
import { outputMode, RunPrinter } from './render.js';

interface RunOptions {
  agent?: string;
  workspace?: string;
  spec?: string;
  timeout?: number;
  model?: string;
  metadata?: Record<string, string>;
  idempotencyKey?: string;
  detach?: boolean;
  json?: boolean;
  diff?: string;
  reconnectSeconds: number;
  context?: string;
}

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
    .option('--model <model>', 'model for the agent')
    .option('--metadata <key=value>', 'metadata returned with the run (repeatable)', keyValue)
    .option('--idempotency-key <key>', 'a retried submit with the same key and body answers the first run')
    .option('--detach', 'print the run id and exit 0 at once')
    .option('--json', 'one JSON object per event on stdout, then the final run')
    .option('--diff <file>', "write the run's diff to this file at the end")
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
  autocode run --detach --json "update the changelog"`,
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
  const { client } = connect(options.context);
  const body: SubmitRunBody = {
    ...(prompt ? { prompt } : {}),
    ...(options.agent !== undefined && { agent: options.agent }),
    ...(options.workspace !== undefined && { workspace: options.workspace }),
    ...(options.spec !== undefined && { specId: options.spec }),
    ...(options.timeout !== undefined && { timeoutSeconds: options.timeout }),
    ...(options.model !== undefined && { model: options.model }),
    ...(options.metadata !== undefined && { metadata: options.metadata }),
  };
  const submitted = await client.submitRun(body, options.idempotencyKey === undefined ? {} : { idempotencyKey: options.idempotencyKey });
  if (options.detach) {
    process.stdout.write(options.json ? JSON.stringify(submitted) + '\n' : `${submitted.id}\n`);
    return EXIT.succeeded;
  }
  const printer = new RunPrinter(outputMode(options.json));
  printer.note(`run ${submitted.id} · agent ${submitted.agent}${submitted.workspace ? ` · workspace ${submitted.workspace}` : ''}`);
  return followToEnd({
    client,
    runId: submitted.id,
    printer,
    printEvents: true,
    reconnectSeconds: options.reconnectSeconds,
    diffFile: options.diff,
    cancelOnInterrupt: true,
  });
}
