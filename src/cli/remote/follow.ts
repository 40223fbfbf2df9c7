import { writeFileSync } from 'node:fs';
import { AutocodeError, type AutocodeClient, type Run } from '@autocode/client';
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
  }
  following = false;
  const run = await client.getRun(runId);
  const filesChanged = await diffOf(client, run, options.diffFile, printer);
  printer.summary(run, filesChanged);
  return interrupted ? EXIT.cancelled : exitCodeOfStatus(run.status);
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
