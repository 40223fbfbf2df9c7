import { Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import { DatabaseService } from '../database/database.service.js';
import type { RunInbox } from '../agents/executors/executor.js';
import { RunEventsService } from '../runs/run-events.service.js';

/** How often the node looks in the database for messages sent through other nodes (without Redis, or while it is away). */
const POLL_MS = 1_000;

const PENDING_SQL = 'SELECT id, prompt FROM run_messages WHERE run_id = ? AND delivered_at IS NULL ORDER BY id';
const DELIVERED_SQL = 'UPDATE run_messages SET delivered_at = ? WHERE id = ? AND delivered_at IS NULL';
const UNDELIVERED_SQL = 'UPDATE run_messages SET delivered_at = NULL WHERE id = ?';

interface OpenInbox {
  receive: ((prompt: string) => boolean) | null;
  /** Collections of one run, one after another, so its messages reach the agent in order. */
  collecting: Promise<void>;
}

/**
 * The messages sent to the runs running on this node (`POST /api/v1/runs/:id/messages`): stored
 * by whichever node took the request, then handed to the agent here at once when that is this
 * node or Redis tells it, otherwise at its next look at the database. A message is handed over
 * once (marked delivered in the database), recorded as the run's `user_message` event.
 */
@Injectable()
export class RunInboxesService implements OnApplicationShutdown {
  private readonly logger = new Logger(RunInboxesService.name);
  private readonly open = new Map<string, OpenInbox>();
  private readonly relays: ((runId: string) => void)[] = [];
  private poller: NodeJS.Timeout | null = null;

  constructor(
    private readonly database: DatabaseService,
    private readonly events: RunEventsService,
  ) {}

  /** The inbox of a run starting here; closed with `close` once it has ended. */
  inboxFor(runId: string): RunInbox {
    const inbox: OpenInbox = { receive: null, collecting: Promise.resolve() };
    this.open.set(runId, inbox);
    if (!this.poller) {
      this.poller = setInterval(() => {
        for (const id of this.open.keys()) void this.collect(id);
      }, POLL_MS);
      this.poller.unref();
    }
    return {
      listen: (receive) => {
        inbox.receive = receive;
        void this.collect(runId);
      },
      collect: () => this.collect(runId),
    };
  }

  close(runId: string): void {
    this.open.delete(runId);
    if (this.open.size === 0 && this.poller) {
      clearInterval(this.poller);
      this.poller = null;
    }
  }

  /** A message was stored for a run: handed over now if it runs here, else the other nodes are told. */
  notify(runId: string): void {
    if (this.open.has(runId)) {
      void this.collect(runId);
      return;
    }
    for (const tell of this.relays) tell(runId);
  }

  /** Another node stored a message for a run (over Redis). */
  receiveRelayed(runId: string): void {
    if (this.open.has(runId)) void this.collect(runId);
  }

  /** Adds a way to tell the other nodes of a stored message. */
  relayTo(tell: (runId: string) => void): void {
    this.relays.push(tell);
  }

  onApplicationShutdown(): void {
    if (this.poller) clearInterval(this.poller);
  }

  private collect(runId: string): Promise<void> {
    const inbox = this.open.get(runId);
    if (!inbox) return Promise.resolve();
    inbox.collecting = inbox.collecting.then(() =>
      this.handOver(runId, inbox).catch((error: Error) => this.logger.warn({ runId }, `messages of run ${runId} could not be read: ${error.message}`)),
    );
    return inbox.collecting;
  }

  private async handOver(runId: string, inbox: OpenInbox): Promise<void> {
    if (!inbox.receive) return;
    const manager = this.database.dataSource.manager;
    const { rows } = await this.database.query<{ id: string; prompt: string }>(manager, PENDING_SQL, [runId]);
    for (const message of rows) {
      const { affected } = await this.database.query(manager, DELIVERED_SQL, [new Date().toISOString(), message.id]);
      if (affected === 0) continue;
      // The event is recorded by the node that runs the agent: it alone numbers the run's events.
      if (inbox.receive(message.prompt)) {
        this.events.append(runId, 'user_message', { prompt: message.prompt });
      } else {
        // The agent's last turn ended as it came: the message stays stored, undelivered.
        await this.database.query(manager, UNDELIVERED_SQL, [message.id]);
        this.logger.warn({ runId }, `a message reached run ${runId} after its agent had stopped reading`);
      }
    }
  }
}
