import { Inject, Injectable } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import type { AppConfig } from '../config/configuration.js';

export interface QueuedRun {
  id: string;
  userId: string;
  createdAt: string;
  /** How many of its user's queued runs are ahead of it (the users take turns by it). */
  position: number;
}

/** What became of a run handed to this node: started (the slot is held until `ended`), gone, or its user is at their limit. */
export type Delivery = { outcome: 'started'; ended: Promise<void> } | { outcome: 'gone' } | { outcome: 'user_at_limit' };

/** Claims a run in the database and, when it may start, starts it. */
export type RunHandler = (run: QueuedRun) => Promise<Delivery>;

/**
 * Carries the ids of stored `queued` runs to the nodes that run agents. The
 * database is the truth: a queue holds nothing a client can observe, a run
 * lost by it is found again by the dispatcher's sweep of stored queued runs,
 * and a run handed out twice is started once, since starting it is a claim
 * in the database. Runs are handed out within the node's capacity, users
 * taking turns, and a user at their limit holds no slot.
 */
export abstract class RunQueue {
  /** Hands a stored queued run on; a run enqueued twice is handed out once. Never throws: the sweep finds what is lost. */
  abstract enqueue(run: QueuedRun): Promise<void>;
  /** Enqueues runs found by the sweep of the database; those already held are left as they are. */
  abstract enqueueAll(runs: QueuedRun[]): Promise<void>;
  /** How often the dispatcher should sweep the database for queued runs this queue may not hold. */
  abstract get sweepIntervalMs(): number;
  /** A queued run was cancelled: it need not be handed out (it would be found gone if it were). */
  abstract forget(runId: string): void;
  /** Starts handing runs to `handler` (on a node that runs agents, once crash recovery is done). */
  abstract consume(handler: RunHandler): void;
  /** Stops handing out runs: the node is shutting down. Runs it started go on until they end. */
  abstract pause(): Promise<void>;
  /** Lets go of what it holds (connections), once the node's agents have ended. */
  abstract close(): Promise<void>;
  /** A hint that a slot, or a user's limit (a run of `userId` ended), may have freed: look again now. */
  abstract wake(userId?: string): void;
  /** Runs waiting, as last seen (metrics and health). */
  abstract get depth(): number;
  /** Which implementation this is, for health. */
  abstract get adapter(): string;
}

/**
 * The in-process queue of the embedded setup (and of several nodes without
 * Redis, each fed by its sweep of the database): runs wait in memory in
 * submission order and the users take turns for free slots.
 */
@Injectable()
export class LocalRunQueue extends RunQueue {
  private readonly queue: QueuedRun[] = [];
  private readonly ids = new Set<string>();
  private readonly capacity: number;
  private handler: RunHandler | null = null;
  private running = 0;
  private paused = false;
  private pumping = false;
  private pumpAgain = false;
  /** When this node last started a run of each user: the users take turns for free slots. */
  private readonly lastStartedAt = new Map<string, number>();

  constructor(@Inject(ConfigService) config: ConfigService<AppConfig, true>) {
    super();
    this.capacity = config.get('agents.maxConcurrent', { infer: true });
  }

  get adapter(): string {
    return 'in-process';
  }

  get depth(): number {
    return this.queue.length;
  }

  /** Every second: without Redis, the sweep is how runs submitted through another node reach this one. */
  get sweepIntervalMs(): number {
    return 1_000;
  }

  async enqueueAll(runs: QueuedRun[]): Promise<void> {
    for (const run of runs) await this.enqueue(run);
  }

  enqueue(run: QueuedRun): Promise<void> {
    if (this.ids.has(run.id)) return Promise.resolve();
    this.ids.add(run.id);
    // Submission order: appends are already in order; a run found later by a sweep is inserted in place.
    let index = this.queue.length;
    while (index > 0 && this.queue[index - 1]!.createdAt > run.createdAt) index--;
    this.queue.splice(index, 0, run);
    this.wake();
    return Promise.resolve();
  }

  consume(handler: RunHandler): void {
    this.handler = handler;
    this.wake();
  }

  pause(): Promise<void> {
    this.paused = true;
    return Promise.resolve();
  }

  close(): Promise<void> {
    return Promise.resolve();
  }

  /** Starts as many waiting runs as capacity and user limits allow. Re-entrant calls coalesce. */
  wake(): void {
    if (!this.handler || this.paused) return;
    if (this.pumping) {
      this.pumpAgain = true;
      return;
    }
    this.pumping = true;
    void this.pump().finally(() => {
      this.pumping = false;
      if (this.pumpAgain) {
        this.pumpAgain = false;
        this.wake();
      }
    });
  }

  forget(runId: string): void {
    this.remove(runId);
  }

  private remove(runId: string): void {
    if (!this.ids.delete(runId)) return;
    const index = this.queue.findIndex((run) => run.id === runId);
    if (index !== -1) this.queue.splice(index, 1);
  }

  private async pump(): Promise<void> {
    const usersAtLimit = new Set<string>();
    for (const candidate of this.fairOrder()) {
      if (this.paused || this.running >= this.capacity) return;
      if (usersAtLimit.has(candidate.userId)) continue;
      let delivery: Delivery;
      try {
        delivery = await this.handler!(candidate);
      } catch {
        // Not claimed (the database is away): it stays waiting; the next wake or sweep tries again.
        return;
      }
      if (delivery.outcome === 'user_at_limit') {
        usersAtLimit.add(candidate.userId);
        continue;
      }
      this.remove(candidate.id);
      if (delivery.outcome === 'started') {
        this.lastStartedAt.set(candidate.userId, Date.now());
        this.running++;
        void delivery.ended.finally(() => {
          this.running--;
          this.wake();
        });
      }
    }
  }

  /**
   * The waiting runs in the order they should get a slot: the users take turns, the one this
   * node started a run for longest ago (or never) first, each user's runs oldest first. A user
   * with a hundred runs queued ahead of another's five does not make the other wait for all of them.
   */
  private fairOrder(): QueuedRun[] {
    const byUser = new Map<string, QueuedRun[]>();
    for (const run of this.queue) {
      const runs = byUser.get(run.userId);
      if (runs) runs.push(run);
      else byUser.set(run.userId, [run]);
    }
    const users = [...byUser.keys()].sort((a, b) => (this.lastStartedAt.get(a) ?? 0) - (this.lastStartedAt.get(b) ?? 0) || (byUser.get(a)![0]!.createdAt < byUser.get(b)![0]!.createdAt ? -1 : 1));
    const order: QueuedRun[] = [];
    for (let turn = 0; order.length < this.queue.length; turn++) {
      for (const user of users) {
        const run = byUser.get(user)![turn];
        if (run) order.push(run);
      }
    }
    return order;
  }
}
