import { Injectable, Logger } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { EventEmitter } from 'node:events';
import { MoreThan, type EntityManager, type QueryDeepPartialEntity, type Repository } from 'typeorm';

import { DatabaseService } from '../database/database.service.js';
import { Run } from './entities/run.entity.js';
import { RunEvent, type RunEventType } from './entities/run-event.entity.js';
import type { RunEventView } from './run.view.js';

export function toEventView(event: RunEvent): RunEventView {
  return { seq: event.seq, ts: event.ts, type: event.type, data: event.data };
}

// TypeORM's partial-entity type cannot follow `Record<string, unknown>` JSON columns; the rows are whole entities.

const END_STREAMS = Symbol('end-streams');

/** Most events written in one INSERT (SQLite bounds the number of bound parameters). */
const INSERT_CHUNK = 500;

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
  private pending: RunEvent[] = [];
  private flushScheduled = false;
  private flushing: Promise<void> = Promise.resolve();

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
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(() => {
        this.flush().catch((error: Error) => this.logger.error(`writing run events failed: ${error.message}`));
      });
    }
  }

  /** Writes every buffered event, then tells subscribers. Resolves when all appends made so far are stored. */
  flush(): Promise<void> {
    this.flushing = this.flushing.catch(() => undefined).then(() => this.writePending());
    return this.flushing;
  }

  private async writePending(): Promise<void> {
    this.flushScheduled = false;
    const batch = this.pending;
    if (batch.length === 0) return;
    this.pending = [];
    const lastSeqByRun = new Map<string, number>();
    for (const event of batch) lastSeqByRun.set(event.runId, event.seq);
    await this.database.transaction(async (manager) => {
      for (let start = 0; start < batch.length; start += INSERT_CHUNK) {
        await manager.insert(RunEvent, batch.slice(start, start + INSERT_CHUNK) as QueryDeepPartialEntity<RunEvent>[]);
      }
      for (const [runId, lastSeq] of lastSeqByRun) {
        await manager.update(Run, { id: runId }, { lastSeq });
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

  /** The first event of a run, inserted with the run itself (whose `last_seq` starts at 1). */
  async appendFirst(manager: EntityManager, runId: string, type: RunEventType, data: Record<string, unknown>, ts: string): Promise<RunEventView> {
    const event = Object.assign(new RunEvent(), { runId, seq: 1, ts, type, data });
    await manager.createQueryBuilder().insert().into(RunEvent).values(event as QueryDeepPartialEntity<RunEvent>).updateEntity(false).execute();
    return toEventView(event);
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
    await manager.increment(Run, { id: runId }, 'lastSeq', 1);
    const { lastSeq } = await manager.findOneOrFail(Run, { where: { id: runId }, select: { id: true, lastSeq: true } });
    const event = Object.assign(new RunEvent(), { runId, seq: lastSeq, ts, type, data });
    await manager.insert(RunEvent, event as QueryDeepPartialEntity<RunEvent>);
    return toEventView(event);
  }

  publish(runId: string, events: RunEventView[]): void {
    if (events.length > 0) this.bus.emit(runId, events);
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

  async list(runId: string, after: number, limit: number): Promise<RunEventView[]> {
    const rows = await this.events.find({ where: { runId, seq: MoreThan(after) }, order: { seq: 'ASC' }, take: limit });
    return rows.map(toEventView);
  }
}
