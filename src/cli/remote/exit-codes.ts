import { AutocodeError, EventStreamError } from '@autocode/client';
import { CliError } from '../../common/cli-output.js';

/** What `autocode` exits with (README "CLI", `autocode --help`). */
export const EXIT = {
  succeeded: 0,
  failed: 1,
  usage: 2,
  unreachable: 3,
  unauthorized: 4,
  refused: 5,
  timedOut: 124,
  interrupted: 125,
  cancelled: 130,
} as const;

export const EXIT_CODES_HELP = `Exit status:
  0    the run succeeded (or the command did what it was asked)
  1    the run failed, or the command failed (not found, already finished, ...)
  2    usage or validation error (a mistyped command or flag, a 400 answer)
  3    the server is unreachable (or unavailable: 503)
  4    unauthorized or forbidden (401, 403): check the token
  5    refused by the quota or a rate limit (429); Retry-After is shown
  124  the run timed out          125  the run was interrupted
  130  the run was cancelled, or Ctrl-C cancelled it`;

/** The exit status of a run that ended with `status`. */
export function exitCodeOfStatus(status: string): number {
  switch (status) {
    case 'succeeded':
      return EXIT.succeeded;
    case 'timed_out':
      return EXIT.timedOut;
    case 'interrupted':
      return EXIT.interrupted;
    case 'cancelled':
      return EXIT.cancelled;
    default:
      return EXIT.failed;
  }
}

/** The exit status and the one line to print for what a remote command threw. */
export function describeFailure(error: unknown, server?: string): { exitCode: number; message: string } {
  if (error instanceof CliError) return { exitCode: error.exitCode, message: error.message };
  if (error instanceof AutocodeError) {
    const detail = `${error.problem.detail ?? error.message} (${error.status} ${error.code})`;
    if (error.status === 400 || error.status === 422) return { exitCode: EXIT.usage, message: detail };
    if (error.status === 401 || error.status === 403) return { exitCode: EXIT.unauthorized, message: detail };
    if (error.status === 429) {
      const wait = error.retryAfter === null ? '' : `; retry after ${error.retryAfter} s`;
      return { exitCode: EXIT.refused, message: `${detail}${wait}` };
    }
    // The server answered: the repository or the forge behind it refused.
    if (error.code === 'push_failed' || error.code === 'forge_request_failed') return { exitCode: EXIT.failed, message: detail };
    if (error.status === 502 || error.status === 503 || error.status === 504) return { exitCode: EXIT.unreachable, message: detail };
    return { exitCode: EXIT.failed, message: detail };
  }
  if (error instanceof EventStreamError) return { exitCode: EXIT.unreachable, message: `lost the run's event stream: ${error.message}` };
  if (isNetworkError(error)) {
    const cause = (error as Error & { cause?: { code?: string; message?: string } }).cause;
    return { exitCode: EXIT.unreachable, message: `cannot reach ${server ?? 'the server'}: ${cause?.code ?? cause?.message ?? (error as Error).message}` };
  }
  return { exitCode: EXIT.failed, message: error instanceof Error ? error.message : String(error) };
}

/** fetch's failure to connect, resolve or read an answer (undici throws a TypeError with the cause). */
export function isNetworkError(error: unknown): boolean {
  return error instanceof TypeError && (error.message === 'fetch failed' || 'cause' in error);
}
