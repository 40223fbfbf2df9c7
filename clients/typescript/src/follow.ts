import { createParser, type EventSourceMessage } from 'eventsource-parser';
import type { Client } from 'openapi-fetch';
import { AutocodeError } from './errors.js';
import type { paths } from './generated/schema.js';
import { finalStatusOf, isFinalStatus, type RunEvent } from './types.js';

export interface RetryOptions {
  /** The first wait before reconnecting, in milliseconds (default 250); it doubles on each failure in a row. */
  initialDelayMs?: number;
  /** The longest wait between two attempts (default 5000). */
  maxDelayMs?: number;
  /**
   * How long to go on reconnecting without hearing from the server (an event or a keep-alive),
   * in milliseconds (default 60000); past it, the last error is thrown.
   */
  retryForMs?: number;
  /** Called before each wait to reconnect, with what broke the stream and how long the wait is. */
  onRetry?: (retry: { error: unknown; delayMs: number; attempt: number }) => void;
}

export interface FollowOptions {
  /** Start after this `seq` (default 0: from the run's first event). */
  after?: number;
  /** Stops following: the iteration throws the signal's reason. */
  signal?: AbortSignal;
  retry?: RetryOptions;
}

/** Answers worth trying again after a while; anything else (401, 404, …) ends the follow at once. */
const RETRYABLE_STATUSES = new Set([408, 429, 500, 502, 503, 504]);

/** An event stream that broke or ended before the run's final status; thrown once reconnecting has run out of time. */
export class EventStreamError extends Error {
  override readonly name = 'EventStreamError';
}

/**
 * The run's events in `seq` order, each once: the stored ones, then live ones, until the event that
 * carries its final status. A dropped connection is resumed after the last event received
 * (`Last-Event-ID`), after a backoff with jitter, for as long as `retry.retryForMs` allows.
 */
export async function* followRunEvents(api: Client<paths>, id: string, options: FollowOptions = {}): AsyncGenerator<RunEvent, void, undefined> {
  const { signal } = options;
  const initialDelayMs = options.retry?.initialDelayMs ?? 250;
  const maxDelayMs = options.retry?.maxDelayMs ?? 5000;
  const retryForMs = options.retry?.retryForMs ?? 60_000;
  let lastSeq = options.after ?? 0;
  let failures = 0;
  let heardFromServerAt = Date.now();

  for (;;) {
    signal?.throwIfAborted();
    let failure: unknown;
    let retryAfterMs = 0;
    const connection = new AbortController();
    const connectionSignal = signal ? AbortSignal.any([signal, connection.signal]) : connection.signal;
    let reader: ReadableStreamDefaultReader<Uint8Array> | undefined;
    try {
      const { data, error, response } = await api.GET('/api/v1/runs/{id}/events', {
        params: { path: { id }, header: lastSeq > 0 ? { 'Last-Event-ID': String(lastSeq) } : {} },
        headers: { accept: 'text/event-stream' },
        parseAs: 'stream',
        signal: connectionSignal,
      });
      if (!response.ok) {
        const refused = AutocodeError.fromResponse(response, error);
        if (!RETRYABLE_STATUSES.has(response.status)) throw refused;
        retryAfterMs = (refused.retryAfter ?? 0) * 1000;
        throw new EventStreamError(`the server answered ${response.status} ${refused.code}`, { cause: refused });
      }
      if (!data) throw new EventStreamError('the event stream had no body');

      const messages: EventSourceMessage[] = [];
      const parser = createParser({
        onEvent: (message) => messages.push(message),
        onComment: () => (heardFromServerAt = Date.now()),
      });
      const decoder = new TextDecoder();
      reader = data.getReader();
      let eventsThisConnection = 0;
      for (;;) {
        const chunk = await reader.read();
        if (chunk.done) break;
        parser.feed(decoder.decode(chunk.value, { stream: true }));
        while (messages.length > 0) {
          const event = JSON.parse(messages.shift()!.data) as RunEvent;
          if (event.seq <= lastSeq) continue;
          if (event.seq !== lastSeq + 1) throw new EventStreamError(`the stream skipped from seq ${lastSeq} to ${event.seq}`);
          lastSeq = event.seq;
          eventsThisConnection += 1;
          failures = 0;
          heardFromServerAt = Date.now();
          yield event;
          if (finalStatusOf(event) !== null) return;
        }
      }
      // The server ended the stream without a final status: either nothing comes after `lastSeq`
      // (the run had finished and its last event was already read) or it is shutting down.
      if (eventsThisConnection === 0 && (await finishedAfter(api, id, lastSeq, connectionSignal))) return;
      throw new EventStreamError('the server ended the event stream before the final status');
    } catch (error) {
      if (signal?.aborted) throw signal.reason;
      if (error instanceof AutocodeError || error instanceof SyntaxError) throw error;
      failure = error;
    } finally {
      connection.abort();
      reader?.cancel().catch(() => {});
    }

    failures += 1;
    const backoff = Math.min(maxDelayMs, initialDelayMs * 2 ** (failures - 1));
    const delay = Math.max(retryAfterMs, backoff / 2 + Math.random() * (backoff / 2));
    if (Date.now() + delay - heardFromServerAt > retryForMs) {
      throw failure instanceof EventStreamError && failure.cause !== undefined ? failure.cause : failure;
    }
    options.retry?.onRetry?.({ error: failure, delayMs: delay, attempt: failures });
    await sleep(delay, signal);
  }
}

/** Whether the run has finished and has no event after `seq`. */
async function finishedAfter(api: Client<paths>, id: string, seq: number, signal: AbortSignal): Promise<boolean> {
  const run = await api.GET('/api/v1/runs/{id}', { params: { path: { id } }, signal });
  if (!run.response.ok) throw AutocodeError.fromResponse(run.response, run.error);
  if (!isFinalStatus(run.data?.status)) return false;
  const page = await api.GET('/api/v1/runs/{id}/events', { params: { path: { id }, query: { after: seq, limit: 1 } }, signal });
  if (!page.response.ok) throw AutocodeError.fromResponse(page.response, page.error);
  // The JSON page: openapi-fetch types the data as either of the route's media types.
  return typeof page.data === 'object' && page.data.items.length === 0;
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
