import type { FastifyReply } from 'fastify';
import { isFinal, type RunStatus } from './entities/run.entity.js';
import type { RunEventsService } from './run-events.service.js';
import type { RunEventView } from './run.view.js';

const REPLAY_PAGE = 500;
const KEEPALIVE_MS = 15_000;

/** Live events are shared by every subscriber of a run: each is serialized once, not once per stream. */
const frames = new WeakMap<RunEventView, string>();

function frame(event: RunEventView): string {
  let text = frames.get(event);
  if (text === undefined) {
    text = `id: ${event.seq}\nevent: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`;
    frames.set(event, text);
  }
  return text;
}

function isFinalStatus(event: RunEventView): boolean {
  return event.type === 'status' && isFinal(event.data.status as RunStatus);
}

/**
 * A live batch as the bytes every subscriber that is up to date gets: encoded
 * once, not once per stream. Null when it cannot be sent whole (a gap in its
 * `seq`s, or a final status before its end).
 */
const encodedBatches = new WeakMap<readonly RunEventView[], Buffer | null>();

function encodedBatch(batch: readonly RunEventView[]): Buffer | null {
  let bytes = encodedBatches.get(batch);
  if (bytes === undefined) {
    const whole = batch.every((event, i) => i === 0 || (event.seq === batch[i - 1]!.seq + 1 && !isFinalStatus(batch[i - 1]!)));
    bytes = whole ? Buffer.from(batch.map(frame).join('')) : null;
    encodedBatches.set(batch, bytes);
  }
  return bytes;
}

/**
 * Serves one SSE stream of a run: the stored events after `after`, then live
 * ones, each exactly once and in `seq` order, closing after the final status.
 * The subscription starts before the replay, and anything out of order is
 * read back from the database, so no event falls between replay and live.
 * A client that reads slower than events come is not buffered for: while its
 * socket is full, live events are skipped and read back once it drains.
 */
export async function streamRunEvents(
  reply: FastifyReply,
  events: RunEventsService,
  run: { id: string; status: RunStatus },
  after: number,
): Promise<void> {
  const runId = run.id;
  const raw = reply.raw;
  reply.hijack();
  raw.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache, no-transform',
    connection: 'keep-alive',
    'x-accel-buffering': 'no',
  });
  raw.write('retry: 2000\n\n');

  let lastSeq = after;
  let closed = false;
  let catchingUp: Promise<void> | null = null;
  let waitingForDrain = false;
  let keepalive: NodeJS.Timeout | null = null;
  let resolveDone!: () => void;
  const done = new Promise<void>((resolve) => (resolveDone = resolve));

  const close = (): void => {
    if (closed) return;
    closed = true;
    unsubscribe();
    stopOnShutdown();
    stopWatching();
    if (keepalive) clearInterval(keepalive);
    if (!raw.writableEnded) raw.end();
    resolveDone();
  };

  // One socket write per batch.
  const write = (batch: RunEventView[]): void => {
    if (waitingForDrain || closed || batch.length === 0) return;
    const last = batch.at(-1)!;
    const shared = batch[0]!.seq === lastSeq + 1 ? encodedBatch(batch) : null;
    if (shared) {
      lastSeq = last.seq;
      if (!raw.write(shared)) waitingForDrain = true;
      if (isFinalStatus(last)) close();
      return;
    }
    let out = '';
    let final = false;
    for (const event of batch) {
      if (closed || final || event.seq !== lastSeq + 1) continue;
      out += frame(event);
      lastSeq = event.seq;
      final = isFinalStatus(event);
    }
    if (out && !raw.write(out)) waitingForDrain = true;
    if (final) close();
  };

  const catchUp = (): Promise<void> =>
    (catchingUp ??= (async () => {
      try {
        for (;;) {
          const page = await events.list(runId, lastSeq, REPLAY_PAGE);
          write(page);
          if (closed || waitingForDrain || page.length < REPLAY_PAGE) return;
        }
      } catch {
        close();
      } finally {
        catchingUp = null;
      }
    })());

  const unsubscribe = events.subscribe(runId, (batch) => {
    if (closed || waitingForDrain) return;
    if (catchingUp === null && batch[0] !== undefined && batch[0].seq === lastSeq + 1) {
      write(batch);
    } else if (batch.at(-1)!.seq > lastSeq) {
      // A read already under way may have started before this batch was committed: read again if it missed it.
      void catchUp().then(() => {
        write(batch);
        if (batch.at(-1)!.seq > lastSeq) void catchUp();
      });
    }
  });
  const stopOnShutdown = events.onEndStreams(close);
  raw.on('close', close);
  raw.on('drain', () => {
    waitingForDrain = false;
    void catchUp();
  });
  const stopWatching = events.watchStored(runId, (stored) => {
    if (stored > lastSeq && !waitingForDrain) void catchUp();
  });
  keepalive = setInterval(() => raw.write(': keep-alive\n\n'), KEEPALIVE_MS);
  await catchUp();
  // A run that had finished before the request has all its events stored: the replay was the whole stream
  // (this also ends a stream resumed after the final event). Unless the replay is waiting for the client to
  // read: then it goes on at 'drain' and ends with the final status event.
  if (isFinal(run.status) && !waitingForDrain) close();
  await done;
}
