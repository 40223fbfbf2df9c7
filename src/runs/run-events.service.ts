import { Injectable, Logger } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { EventEmitter } from 'node:events';
import { MoreThan, type EntityManager, type Repository } from 'typeorm';

import { DatabaseService } from '../database/database.service.js';
import { RunEvent, type RunEventType } from './entities/run-event.entity.js';
import type { RunEventView } from './run.view.js';

export function toEventView(event: RunEvent): RunEventView {
  return { seq: event.seq, ts: event.ts, type: event.type, data: event.data };
}

const END_STREAMS = Symbol('end-streams');

/**
 * Output is written at most this often (a flush after a quiet spell starts at
 * once): a steady trickle of lines costs one transaction per interval, not one
 * per line.
 */
const FLUSH_INTERVAL_MS = 10;
/** Pending events that start a flush without waiting for the interval. */
const FLUSH_AT_EVENTS = 500;

/**
 * Rows per INSERT: a batch is written in chunks of these sizes, largest first,
 * so a handful of statement texts cover every batch size and stay prepared.
 */
const INSERT_CHUNKS = [256, 64, 16, 4, 1];
const insertEventsSql = new Map(
  INSERT_CHUNKS.map((rows) => [rows, `INSERT INTO run_events (run_id, seq, ts, type, data) VALUES ${Array(rows).fill('(?, ?, ?, ?, ?)').join(', ')}`]),
);

/** How often a run with open streams is checked for events written by another process. */
const STORED_POLL_MS = 2_000;
const STORED_SEQ_SQL = 'SELECT last_seq FROM runs WHERE id = ?';

const NEXT_SEQ_SQL = 'UPDATE runs SET last_seq = last_seq + 1 WHERE id = ? RETURNING last_seq';
const SET_LAST_SEQ_SQL = 'UPDATE runs SET last_seq = ? WHERE id = ?';

/**
 * Run events: the append-only log in the database and the live bus beside it.
 *
 * Output of a running agent is buffered and written in batches (one
 * transaction per flush for every run with pending events); subscribers are
 * told only after the batch is committed, so nothing a client sees can be lost.
 * `seq` comes from the run's `last_seq`: status changes take the next one
 * inside their own transaction, a running agent's output takes it from the
 * counter its node keeps while it is the run's only writer.
 */
@Injectable()
export class RunEventsService {
  private readonly logger = new Logger(RunEventsService.name);
  private readonly bus = new EventEmitter().setMaxListeners(0);
  private readonly counters = new Map<string, number>();
  private readonly relays: ((runId: string, events: RunEventView[]) => void)[] = [];
  private pending: RunEvent[] = [];
  /** Cancels the flush scheduled by `append`, if one is. */
  private cancelScheduledFlush: (() => void) | null = null;
  private lastFlushAt = 0;
  private flushing: Promise<void> = Promise.resolve();
  private readonly storedWatches = new Map<string, { listeners: Set<(lastSeq: number) => void>; timer: NodeJS.Timeout }>();

  constructor(
    private readonly database: DatabaseService,
    @InjectRepository(RunEvent) private readonly events: Repository<RunEvent>,
  ) {}

  /** Starts buffered appends for a run this node now owns; `lastSeq` is the run's last written seq. */
  track(runId: string, lastSeq: number): void {
    this.counters.set(runId, lastSeq);
  }

  untrack(runId: string): void {
    this.counters.delete(runId);
  }

  /** Buffers one output event of a running agent; it is written with the next flush. */
  append(runId: string, type: RunEventType, data: Record<string, unknown>): void {
    const seq = (this.counters.get(runId) ?? 0) + 1;
    this.counters.set(runId, seq);
    this.pending.push(Object.assign(new RunEvent(), { runId, seq, ts: new Date().toISOString(), type, data }));
    this.scheduleFlush();
  }

  private scheduleFlush(): void {
    const wait = this.pending.length >= FLUSH_AT_EVENTS ? 0 : this.lastFlushAt + FLUSH_INTERVAL_MS - Date.now();
    if (this.cancelScheduledFlush !== null) {
      if (wait > 0) return;
      this.cancelScheduledFlush();
    }
    const run = (): void => {
      this.cancelScheduledFlush = null;
      this.flush().catch((error: Error) => this.logger.error(`writing run events failed: ${error.message}`));
    };
    if (wait > 0) {
      const timer = setTimeout(run, wait);
      this.cancelScheduledFlush = () => clearTimeout(timer);
    } else {
      const immediate = setImmediate(run);
      this.cancelScheduledFlush = () => clearImmediate(immediate);
    }
  }

  /** Writes every buffered event, then tells subscribers. Resolves when all appends made so far are stored. */
  flush(): Promise<void> {
    this.cancelScheduledFlush?.();
    this.cancelScheduledFlush = null;
    this.flushing = this.flushing.catch(() => undefined).then(() => this.writePending());
    return this.flushing;
  }

  private async writePending(): Promise<void> {
    const batch = this.pending;
    if (batch.length === 0) return;
    this.pending = [];
    this.lastFlushAt = Date.now();
    const lastSeqByRun = new Map<string, number>();
    for (const event of batch) lastSeqByRun.set(event.runId, event.seq);
    await this.database.transaction(async (manager) => {
      await this.insertEvents(manager, batch);
      for (const [runId, lastSeq] of lastSeqByRun) {
        await this.database.query(manager, SET_LAST_SEQ_SQL, [lastSeq, runId]);
      }
    });
    const byRun = new Map<string, RunEventView[]>();
    for (const event of batch) {
      const list = byRun.get(event.runId) ?? [];
      list.push(toEventView(event));
      byRun.set(event.runId, list);
    }
    for (const [runId, views] of byRun) this.publish(runId, views);
  }

  private async insertEvents(manager: EntityManager, events: readonly RunEvent[]): Promise<void> {
    let start = 0;
    for (const rows of INSERT_CHUNKS) {
      while (events.length - start >= rows) {
        const parameters: unknown[] = [];
        for (const event of events.slice(start, start + rows)) {
          parameters.push(event.runId, event.seq, event.ts, event.type, JSON.stringify(event.data));
        }
        await this.database.query(manager, insertEventsSql.get(rows)!, parameters);
        start += rows;
      }
    }
  }

  /** The first event of a run, inserted with the run itself (whose `last_seq` starts at 1). */
  async appendFirst(manager: EntityManager, runId: string, type: RunEventType, data: Record<string, unknown>, ts: string): Promise<RunEventView> {
    return this.insertOne(manager, runId, 1, type, data, ts);
  }

  /**
   * Appends one event inside the caller's transaction (status changes), taking
   * the next `seq` from the run row. The caller publishes it after commit.
   */
  async appendInTransaction(
    manager: EntityManager,
    runId: string,
    type: RunEventType,
    data: Record<string, unknown>,
    ts = new Date().toISOString(),
  ): Promise<RunEventView> {
    const [row] = (await this.database.query<{ last_seq: number }>(manager, NEXT_SEQ_SQL, [runId])).rows;
    if (!row) throw new Error(`run ${runId} does not exist`);
    return this.insertOne(manager, runId, row.last_seq, type, data, ts);
  }

  /** Inserts one event whose `seq` the caller has already taken (e.g. with the claim that bumped `last_seq`). */
  async insertOne(manager: EntityManager, runId: string, seq: number, type: RunEventType, data: Record<string, unknown>, ts: string): Promise<RunEventView> {
    const event: RunEventView = { seq, ts, type, data };
    await this.database.query(manager, insertEventsSql.get(1)!, [runId, seq, ts, type, JSON.stringify(data)]);
    return event;
  }

  /** Tells this node's subscribers of committed events, and the other nodes through the relays. */
  publish(runId: string, events: RunEventView[]): void {
    if (events.length === 0) return;
    this.bus.emit(runId, events);
    for (const relay of this.relays) relay(runId, events);
  }

  /** Committed events another node published: for this node's subscribers only. */
  receive(runId: string, events: RunEventView[]): void {
    if (events.length > 0) this.bus.emit(runId, events);
  }

  /** Adds a way to pass published events on to the other nodes. */
  relayTo(relay: (runId: string, events: RunEventView[]) => void): void {
    this.relays.push(relay);
  }

  /** Ends every open event stream (shutdown); each stream's client reconnects with Last-Event-ID. */
  endStreams(): void {
    this.bus.emit(END_STREAMS);
  }

  onEndStreams(listener: () => void): () => void {
    this.bus.on(END_STREAMS, listener);
    return () => this.bus.off(END_STREAMS, listener);
  }

  subscribe(runId: string, listener: (events: RunEventView[]) => void): () => void {
    this.bus.on(runId, listener);
    return () => this.bus.off(runId, listener);
  }

  /**
   * Tells the listener the run's stored `last_seq` every few seconds, so a
   * stream notices events written by another process. One read per run,
   * however many streams follow it.
   */
  watchStored(runId: string, listener: (lastSeq: number) => void): () => void {
    let watch = this.storedWatches.get(runId);
    if (!watch) {
      const timer = setInterval(() => void this.pollStored(runId), STORED_POLL_MS);
      timer.unref();
      watch = { listeners: new Set(), timer };
      this.storedWatches.set(runId, watch);
    }
    watch.listeners.add(listener);
    return () => {
      const current = this.storedWatches.get(runId);
      if (!current?.listeners.delete(listener) || current.listeners.size > 0) return;
      clearInterval(current.timer);
      this.storedWatches.delete(runId);
    };
  }

  private async pollStored(runId: string): Promise<void> {
    let lastSeq: number;
    try {
      const [row] = (await this.database.query<{ last_seq: number }>(this.database.dataSource.manager, STORED_SEQ_SQL, [runId])).rows;
      if (!row) return;
      lastSeq = row.last_seq;
    } catch (error) {
      this.logger.warn(`run ${runId}: reading its last event failed: ${(error as Error).message}`);
      return;
    }
    for (const listener of this.storedWatches.get(runId)?.listeners ?? []) listener(lastSeq);
  }

  async list(runId: string, after: number, limit: number): Promise<RunEventView[]> {
    const rows = await this.events.find({ where: { runId, seq: MoreThan(after) }, order: { seq: 'ASC' }, take: limit });
    return rows.map(toEventView);
  }
}
