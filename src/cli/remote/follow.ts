import { writeFileSync } from 'node:fs';
import { createInterface } from 'node:readline/promises';
import { AutocodeError, type AutocodeClient, type Run, type RunEvent } from '@autocode/client';
import { describeFailure, EXIT, exitCodeOfStatus } from './exit-codes.js';
import { countDiffFiles, formatDuration, type RunPrinter } from './render.js';

export interface FollowToEnd {
  client: AutocodeClient;
  runId: string;
  printer: RunPrinter;
  /** Print each event (`run`, `runs logs -f`), or only reconnects and the summary (`runs wait`). */
  printEvents: boolean;
  reconnectSeconds: number;
  /** Where to write the run's diff at the end. */
  diffFile?: string;
  /** Ctrl-C (or SIGTERM) cancels the run and waits for its end; a second one leaves at once. */
  cancelOnInterrupt: boolean;
  /**
   * What to do when the agent asks for an approval: allow each (`all`, `--approve-all`), ask at the
   * terminal (`ask`), or say how to decide it and go on following (`none`).
   */
  approvals?: Approvals;
}

export type Approvals = 'all' | 'ask' | 'none';

/** `ask` when a person is at the terminal to answer, else `none`; `--approve-all` makes it `all`. */
export function approvalsMode(approveAll: boolean | undefined, json: boolean | undefined): Approvals {
  if (approveAll) return 'all';
  return !json && process.stdin.isTTY && process.stderr.isTTY ? 'ask' : 'none';
}

/**
 * Follows a run to its final status and answers the exit status: the run's outcome, 130 when
 * the user interrupted it, or the failure's own status when following was impossible.
 */
export async function followToEnd(options: FollowToEnd): Promise<number> {
  const { client, runId, printer } = options;
  let interrupted = false;
  let following = true;
  // Installed until the process exits: a signal after the run's end (while the summary is written)
  // leaves at once too, instead of killing the process with the default action.
  const onSignal = (signal: NodeJS.Signals): void => {
    if (interrupted || !following || !options.cancelOnInterrupt) {
      printer.note(`${signal}: leaving; run ${runId} is left as it is`);
      process.exit(EXIT.cancelled);
    }
    interrupted = true;
    printer.note(`${signal}: cancelling run ${runId} (again to leave at once)`);
    client.cancelRun(runId).catch((error: unknown) => {
      // Finished meanwhile: its final status is on its way.
      if (error instanceof AutocodeError && error.code === 'run_finished') return;
      printer.note(`could not cancel: ${describeFailure(error).message}`);
    });
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  for await (const event of client.followRun(runId, {
    retry: {
      retryForMs: options.reconnectSeconds * 1000,
      onRetry: ({ error, delayMs }) => printer.note(`connection lost (${describeFailure(error).message}); reconnecting in ${formatDuration(delayMs)}`),
    },
  })) {
    if (options.printEvents) printer.event(event);
    if (event.type === 'approval_requested' && options.approvals) await answerApproval(client, runId, event, options.approvals, printer);
  }
  following = false;
  const run = await client.getRun(runId);
  const filesChanged = await diffOf(client, run, options.diffFile, printer);
  printer.summary(run, filesChanged);
  return interrupted ? EXIT.cancelled : exitCodeOfStatus(run.status);
}

/** Decides an approval the agent waits on, as `mode` says; a decision that comes too late is only noted. */
async function answerApproval(client: AutocodeClient, runId: string, event: RunEvent, mode: Approvals, printer: RunPrinter): Promise<void> {
  const { approvalId, tool } = event.data as { approvalId: string; tool: string };
  if (mode === 'none') {
    printer.note(`the agent waits for a decision on ${tool}: \`autocode runs approve ${runId} ${approvalId}\` or \`autocode runs deny ${runId} ${approvalId} --message "…"\``);
    return;
  }
  let decision: { decision: 'allow' | 'deny'; message?: string } = { decision: 'allow' };
  if (mode === 'ask') {
    const terminal = createInterface({ input: process.stdin, output: process.stderr });
    try {
      const answer = (await terminal.question(`allow ${tool}? [y = allow, n = deny, or type why you deny it] `)).trim();
      if (!/^y(es)?$/i.test(answer)) decision = { decision: 'deny', ...(answer !== '' && !/^no?$/i.test(answer) && { message: answer }) };
    } finally {
      terminal.close();
    }
  }
  try {
    await client.decideApproval(runId, approvalId, decision);
    if (mode === 'all') printer.note(`allowed ${tool} (--approve-all)`);
  } catch (error) {
    if (error instanceof AutocodeError && error.code === 'approval_closed') {
      printer.note(`too late: ${error.problem.detail ?? 'the approval is closed'}`);
      return;
    }
    throw error;
  }
}

/** Writes the diff where asked and answers how many files it touches (null when the run has no workspace). */
async function diffOf(client: AutocodeClient, run: Run, file: string | undefined, printer: RunPrinter): Promise<number | null> {
  if (run.workspace === null) {
    if (file !== undefined) printer.note(`no diff to write to ${file}: the run had no named workspace`);
    return null;
  }
  try {
    const diff = await client.getDiff(run.id);
    if (file !== undefined) {
      writeFileSync(file, diff);
      printer.note(`diff written to ${file}`);
    }
    return countDiffFiles(diff);
  } catch (error) {
    printer.note(`no diff: ${describeFailure(error).message}`);
    return null;
  }
}
