import { Injectable } from '@nestjs/common';

export interface QueuedRun {
  id: string;
  userId: string;
  createdAt: string;
}

/**
 * Carries the ids of stored `queued` runs to the dispatchers. It holds no
 * state a client can observe: the database is the truth, and at boot every
 * queued run is enqueued again.
 */
export abstract class RunQueue {
  /** Hands a stored queued run to the dispatchers; enqueuing a run twice has no effect. */
  abstract enqueue(run: QueuedRun): void;
  /** Runs waiting for this node, oldest first. */
  abstract waiting(): readonly QueuedRun[];
  abstract remove(runId: string): void;
  abstract has(runId: string): boolean;
  /** Called whenever a run is enqueued. */
  abstract onEnqueue(listener: () => void): void;
}

/** The in-process queue of the embedded (one node) setup. */
@Injectable()
export class LocalRunQueue extends RunQueue {
  private readonly queue: QueuedRun[] = [];
  private readonly ids = new Set<string>();
  private readonly listeners: (() => void)[] = [];

  enqueue(run: QueuedRun): void {
    if (this.ids.has(run.id)) return;
    this.ids.add(run.id);
    // Submission order: appends are already in order; a run found later by a sweep is inserted in place.
    let index = this.queue.length;
    while (index > 0 && this.queue[index - 1]!.createdAt > run.createdAt) index--;
    this.queue.splice(index, 0, run);
    for (const listener of this.listeners) listener();
  }

  waiting(): readonly QueuedRun[] {
    return this.queue;
  }

  remove(runId: string): void {
    if (!this.ids.delete(runId)) return;
    const index = this.queue.findIndex((run) => run.id === runId);
    if (index !== -1) this.queue.splice(index, 1);
  }

  has(runId: string): boolean {
    return this.ids.has(runId);
  }

  onEnqueue(listener: () => void): void {
    this.listeners.push(listener);
  }
}
