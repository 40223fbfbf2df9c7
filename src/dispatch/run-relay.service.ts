import { randomUUID } from 'node:crypto';
import { Injectable, Logger, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { Redis } from 'ioredis';
import type { AppConfig } from '../config/configuration.js';
import { DispatcherService } from './dispatcher.service.js';
import { RunInboxesService } from './run-inboxes.service.js';
import { isFinal, type RunStatus } from '../runs/entities/run.entity.js';
import { ApprovalsService, type DecisionNews } from '../runs/approvals.service.js';
import { RunEventsService } from '../runs/run-events.service.js';
import type { RunEventView } from '../runs/run.view.js';

const EVENTS_CHANNEL = 'autocode:run-events';
const CANCELS_CHANNEL = 'autocode:run-cancels';
const MESSAGES_CHANNEL = 'autocode:run-messages';
const APPROVALS_CHANNEL = 'autocode:run-approvals';

interface EventsMessage {
  from: string;
  runId: string;
  events: RunEventView[];
}

interface CancelMessage {
  from: string;
  runId: string;
}

/** A message was stored for a run (`run_messages`): the node running it reads it now. */
type StoredMessage = CancelMessage;

interface ApprovalMessage extends DecisionNews {
  from: string;
}

/**
 * With `REDIS_URL`, the nodes tell each other over Redis pub/sub what they have committed: a
 * run's events reach the streams of every node as soon as they are stored, and a cancel sent to
 * any node reaches the one that runs the agent at once, and a run queued on an API node wakes
 * the workers, which look for it in the database. The database stays the truth: a message
 * carries only what is already stored, each stream orders and de-duplicates by `seq`, and while
 * Redis is away the nodes fall back to reading the database every few seconds (and catch up
 * from it, so a message lost then costs time, never an event).
 */
@Injectable()
export class RunRelayService implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger(RunRelayService.name);
  private readonly url: string | null;
  /** This process, so that it skips its own messages (node names need not be unique). */
  private readonly instance = randomUUID();
  private publisher: Redis | null = null;
  private subscriber: Redis | null = null;
  private connected = false;
  private lastError: string | null = null;
  private received = 0;

  constructor(
    config: ConfigService<AppConfig, true>,
    private readonly events: RunEventsService,
    private readonly dispatcher: DispatcherService,
    private readonly inboxes: RunInboxesService,
    private readonly approvals: ApprovalsService,
  ) {
    this.url = config.get('redis.url', { infer: true });
  }

  /** For health: whether Redis is configured and answering, and how many messages came from other nodes. */
  get state(): { configured: boolean; connected: boolean; lastError: string | null; received: number } {
    return { configured: this.url !== null, connected: this.connected, lastError: this.lastError, received: this.received };
  }

  /** A round trip to Redis within `timeoutMs`; throws what went wrong. */
  async ping(timeoutMs: number): Promise<void> {
    if (!this.publisher) throw new Error('REDIS_URL is not set');
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([this.publisher.ping(), new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs)))]);
    } finally {
      clearTimeout(timer);
    }
  }

  onModuleInit(): void {
    if (this.url === null) return;
    const options = {
      // Fail a publish at once while Redis is away (the database fallback covers it), and keep trying to reconnect.
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      retryStrategy: (attempt: number) => Math.min(250 * attempt, 2000),
      lazyConnect: false,
    };
    this.publisher = new Redis(this.url, options);
    this.subscriber = new Redis(this.url, { ...options, enableOfflineQueue: true });
    this.publisher.on('ready', () => this.changed(true));
    this.publisher.on('error', (error: Error) => this.changed(false, error.message));
    this.publisher.on('end', () => this.changed(false, 'connection closed'));
    this.subscriber.on('error', () => {});
    this.subscriber.on('message', (channel: string, text: string) => this.onMessage(channel, text));
    this.subscriber.subscribe(EVENTS_CHANNEL, CANCELS_CHANNEL, MESSAGES_CHANNEL, APPROVALS_CHANNEL).catch((error: Error) => this.logger.warn(`Redis subscribe failed: ${error.message}`));
    this.events.relayTo((runId, events) => this.send(EVENTS_CHANNEL, { from: this.instance, runId, events } satisfies EventsMessage));
    this.dispatcher.relayCancels((runId) => this.send(CANCELS_CHANNEL, { from: this.instance, runId } satisfies CancelMessage));
    this.inboxes.relayTo((runId) => this.send(MESSAGES_CHANNEL, { from: this.instance, runId } satisfies StoredMessage));
    // A decision about a tool call that waits on another node: that node reads it from the database at once.
    this.approvals.relayDecisions((news) => this.send(APPROVALS_CHANNEL, { from: this.instance, ...news } satisfies ApprovalMessage));
  }

  onApplicationShutdown(): void {
    // Nothing is owed to Redis: a message not sent is made up for by the database.
    this.publisher?.disconnect();
    this.subscriber?.disconnect();
  }

  private changed(connected: boolean, error?: string): void {
    if (connected && !this.connected) this.logger.log('connected to Redis: run events and cancels reach every node at once');
    if (!connected && (this.connected || this.lastError === null)) {
      this.logger.warn(`Redis is unreachable (${error}): other nodes see run events and cancels by polling the database until it is back`);
    }
    this.connected = connected;
    if (error !== undefined) this.lastError = error;
  }

  private send(channel: string, message: EventsMessage | CancelMessage | ApprovalMessage): void {
    if (!this.publisher || !this.connected) return;
    this.publisher.publish(channel, JSON.stringify(message)).catch(() => {});
  }

  private onMessage(channel: string, text: string): void {
    let message: EventsMessage | CancelMessage | ApprovalMessage;
    try {
      message = JSON.parse(text) as EventsMessage | CancelMessage | ApprovalMessage;
    } catch {
      return;
    }
    if (message.from === this.instance) return;
    this.received += 1;
    if (channel === EVENTS_CHANNEL && 'events' in message) {
      this.events.receive(message.runId, message.events);
      // A run queued elsewhere, or one that ended and may have freed its user's slot: this node looks now.
      if (message.events.some((event) => event.type === 'status' && (event.data.status === 'queued' || isFinal(event.data.status as RunStatus)))) this.dispatcher.wake();
    } else if (channel === CANCELS_CHANNEL) {
      this.dispatcher.cancelLocal(message.runId);
    } else if (channel === MESSAGES_CHANNEL) {
      this.inboxes.receiveRelayed(message.runId);
    } else if (channel === APPROVALS_CHANNEL && 'approvalId' in message) {
      this.approvals.decidedElsewhere({ runId: message.runId, approvalId: message.approvalId });
    }
  }
}
